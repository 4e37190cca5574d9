"""quantgate's domain library: plain functions and classes, no orchestration imports.

Data flows one way: sources -> store -> quality -> features -> labels/split -> training ->
backtest -> gate -> tracking/registry -> execution.
"""
