"""The simulators' local ports, named once.

`scripts/services.sh` (QBO_PORT, MONDAY_PORT), the simulators' command lines (and the QuickBooks
datagen's) and the plugins' demo URLs use the same numbers; tests/metrics/test_datagen.py keeps them equal.
"""

QUICKBOOKS_PORT = 8761
MONDAY_PORT = 8762
