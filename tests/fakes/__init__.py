"""Local stand-ins for market-data services (HTTP on 127.0.0.1, real wire formats)."""
