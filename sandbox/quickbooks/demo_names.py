"""Vocabulary for the demo company: names, streets and towns, so generated records read like real ones."""

from __future__ import annotations

GIVEN_NAMES = (
    "Amy", "Bill", "Grace", "Diego", "Dylan", "Kirby", "Sasha", "Amelia", "Geeta", "Lisa", "Jeff",
    "John", "Kathy", "Mark", "Nick", "Pam", "Peter", "Rago", "Russ", "Sonia", "Stephanie", "Tim",
    "Tony", "Wendy", "Bessie", "Carla", "Emily", "Hector", "Ines", "Jun", "Kenji", "Lena", "Mona",
    "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Victor", "Yusuf", "Zoe",
)

FAMILY_NAMES = (
    "Lauterbach", "Lucchini", "Pariente", "Rodriguez", "Sollfrank", "Freeman", "Tillou", "Kalapatapu",
    "Gevelber", "Chin", "Johnson", "Paulsen", "Cho", "Seitz", "Dukes", "Travis", "Sonnenschein",
    "Mauch", "Wu", "Philip", "Rondonuwu", "Williams", "Brosnahan", "Alvarez", "Baker", "Castillo",
    "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Larsen",
    "Moreau", "Nakamura", "Okafor", "Petrov", "Quintero", "Rossi", "Schmidt", "Tanaka", "Varga",
)

BUSINESS_FIRST = (
    "Amy's", "Blue Heron", "Cedar", "Cool", "Desert", "Dukes", "Evergreen", "Fairway", "Golden Gate",
    "Granite", "Harbor", "Hilltop", "Juniper", "Kelp", "Lakeside", "Maple", "Mesa", "North Star",
    "Oak Ridge", "Pacific", "Pinecone", "Quarry", "Red Rock", "Redwood", "Sage", "Seaside", "Sierra",
    "Silver", "Sunset", "Tahoe", "Twin Lane", "Valley", "Willow", "Yosemite", "Zephyr",
)

BUSINESS_SECOND = (
    "Bird Sanctuary", "Windsurf Shop", "Cars", "Basketball Camp", "Sporting Goods", "Photography",
    "Diner", "Bakery", "Medical Supplies", "Family Store", "Builders", "Consulting", "Dental",
    "Design Studio", "Florists", "Garden Center", "Hardware", "Kennels", "Law Office", "Market",
    "Nursery", "Outfitters", "Pet Supplies", "Plumbing", "Realty", "Tire Center", "Vineyards",
    "Yoga Studio", "Coffee Roasters", "Brewing", "Print Shop", "Auto Body", "Tutoring",
)

VENDOR_NAMES = (
    "Bob's Burger Joint", "Books by Bessie", "Brosnahan Insurance Agency", "Cal Telephone",
    "Chin's Gas and Oil", "Cigna Health Care", "Computers by Jenni", "Diego's Road Warrior Bodyshop",
    "EDD", "Ellis Equipment Rental", "Fidelity", "Hall Properties", "Hicks Hardware",
    "Lee Advertising", "Mahoney Mugs", "Met Life Dental", "National Eye Care",
    "Norton Lumber and Building Materials", "PG&E", "Robertson & Associates", "Squeaky Kleen Car Wash",
    "Tania's Nursery", "Tim Philip Masonry", "United States Treasury", "Coastal Fuel Supply",
    "Summit Office Supply", "Western Irrigation Parts", "Bay Area Staffing", "Golden State Water",
    "Sierra Stone Yard", "Pacific Fleet Leasing", "Acme Fertilizer", "Delta Pest Supply",
)

STREETS = (
    "Finch St.", "Ocean Dr.", "Channing", "Court St.", "Easy St.", "Main St.", "Twin Lane",
    "Cypress Hill Ave.", "S. Boise Ave", "Sierra Way", "Mission Blvd.", "Alameda de las Pulgas",
    "El Camino Real", "Harbor Blvd.", "Bayshore Rd.", "Park Ave.", "Grant Ave.", "Lincoln Way",
)

# (city, state, postal code, latitude, longitude)
TOWNS = (
    ("Bayshore", "CA", "94326", 37.7129, -122.4045),
    ("Half Moon Bay", "CA", "94213", 37.4636, -122.4286),
    ("Palo Alto", "CA", "94303", 37.4419, -122.1430),
    ("Middlefield", "CA", "94482", 37.4032, -122.0643),
    ("Tucson", "AZ", "85719", 32.2841, -110.9744),
    ("San Jose", "CA", "95112", 37.3541, -121.8863),
    ("Sunnyvale", "CA", "94086", 37.3688, -122.0363),
    ("Mountain View", "CA", "94041", 37.3894, -122.0819),
    ("Menlo Park", "CA", "94025", 37.4530, -122.1817),
    ("Reno", "NV", "89501", 39.5296, -119.8138),
    ("Portland", "OR", "97205", 45.5152, -122.6784),
    ("Seattle", "WA", "98101", 47.6062, -122.3321),
)

LINE_DESCRIPTIONS = {
    "Services": "Landscaping services",
    "Design": "Custom Design",
    "Gardening": "Weekly Gardening Service",
    "Installation": "Installation of landscape design",
    "Maintenance & Repair": "Maintenance & Repair",
    "Pest Control": "Pest Control Services",
    "Trimming": "Tree and Shrub Trimming",
    "Rock Fountain": "Rock Fountain",
    "Pump": "Fountain Pump",
    "Sprinkler Heads": "Sprinkler Heads",
    "Sprinkler Pipes": "Sprinkler Pipes",
    "Rocks": "Garden Rocks",
    "Sod": "Sod",
    "Soil": "2 cubic ft. bag",
}

EXPENSE_DESCRIPTIONS = (
    "Monthly service", "Equipment rental", "Fuel", "Office supplies", "Quarterly premium",
    "Print advertising", "Repairs", "Materials", "Utilities for the yard", "Software subscription",
)
