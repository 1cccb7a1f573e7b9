"""Graduate placement monitoring for Fujian's universities (毕业去向落实率监测)."""

__version__ = "0.1.0"
