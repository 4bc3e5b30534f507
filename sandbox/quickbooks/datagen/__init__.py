"""Demo and test data at any size: a DemoCompany (the QuickBooks simulator's dataset type) with years of
seasonal activity, so it is served by the simulator and synced through the real path.

    company = generate_company("9130350000000001", seed=7, records=20_000, years=3)
    SimulatorState(companies=[company], ...)

Same seed and size, byte-identical company (`company.to_json()`). `python -m sandbox.quickbooks.datagen --help`
serves one on a port.
"""

from sandbox.quickbooks.datagen.company import Sizes, generate_company

__all__ = ["Sizes", "generate_company"]
