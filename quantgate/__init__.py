"""quantgate: trading hypotheses as experiments; only models that survive the gate reach a broker."""

__version__ = "0.1.0"
