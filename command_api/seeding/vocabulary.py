"""What seeded data is made of: categories (skewed), product names, prices, customers.

Everything draws from the ``random.Random`` it is given, so a seed gives the same data.
Prices are log-normal around a per-category median, in minor units ending in 99 (as
shops price); stock is log-normal too, with a few products sold out from the start.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# (category, share of products, median price in minor units): a long-tailed mix, as shops have.
CATEGORIES: tuple[tuple[str, float, int], ...] = (
    ("Clothing", 0.22, 3500),
    ("Home & Kitchen", 0.15, 2800),
    ("Electronics", 0.12, 8900),
    ("Beauty", 0.10, 1800),
    ("Sports & Outdoors", 0.08, 4200),
    ("Toys & Games", 0.07, 2500),
    ("Books", 0.06, 1500),
    ("Jewelry", 0.05, 6500),
    ("Garden", 0.05, 3200),
    ("Food & Drink", 0.04, 1200),
    ("Pet Supplies", 0.03, 2200),
    ("Office", 0.03, 1900),
)
_CATEGORY_NAMES = [c for c, _, _ in CATEGORIES]
_CATEGORY_WEIGHTS = [w for _, w, _ in CATEGORIES]
_MEDIAN_PRICE = {c: p for c, _, p in CATEGORIES}

NOUNS = {
    "Clothing": ("T-Shirt", "Hoodie", "Jacket", "Dress", "Jeans", "Sweater", "Scarf", "Socks", "Cap"),
    "Home & Kitchen": ("Mug", "Skillet", "Cutting Board", "Blanket", "Lamp", "Vase", "Teapot", "Towel Set"),
    "Electronics": ("Headphones", "Charger", "Speaker", "Keyboard", "Webcam", "Power Bank", "Mouse"),
    "Beauty": ("Face Cream", "Lip Balm", "Shampoo", "Serum", "Soap Bar", "Body Lotion"),
    "Sports & Outdoors": ("Yoga Mat", "Water Bottle", "Backpack", "Tent", "Running Shoes", "Dumbbell"),
    "Toys & Games": ("Puzzle", "Board Game", "Plush Bear", "Building Set", "Kite", "Card Game"),
    "Books": ("Cookbook", "Novel", "Field Guide", "Notebook", "Atlas", "Poetry Collection"),
    "Jewelry": ("Necklace", "Ring", "Bracelet", "Earrings", "Pendant", "Anklet"),
    "Garden": ("Planter", "Watering Can", "Seed Kit", "Pruning Shears", "Bird Feeder"),
    "Food & Drink": ("Coffee Beans", "Olive Oil", "Honey", "Green Tea", "Chocolate Bar", "Hot Sauce"),
    "Pet Supplies": ("Dog Bed", "Cat Toy", "Leash", "Pet Bowl", "Chew Bone"),
    "Office": ("Desk Organizer", "Fountain Pen", "Planner", "Stapler", "Monitor Stand"),
}
ADJECTIVES = (
    "Classic",
    "Organic",
    "Handmade",
    "Vintage",
    "Compact",
    "Deluxe",
    "Everyday",
    "Premium",
    "Lightweight",
    "Rustic",
    "Modern",
    "Eco",
    "Cozy",
    "Travel",
    "Essential",
    "Artisan",
)
COLOURS = ("Black", "White", "Navy", "Olive", "Sand", "Red", "Teal", "Grey", "Amber", "Forest Green")
SIZES = ("XS", "S", "M", "L", "XL")
TAGS = ("new", "bestseller", "gift", "sale", "eco", "limited", "bundle")

FIRST_NAMES = (
    "Ava",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Kai",
    "Lena",
    "Mia",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Yara",
    "Zoe",
    "Liam",
    "Nora",
    "Oscar",
    "Mateo",
    "Sofia",
)
LAST_NAMES = (
    "Smith",
    "Muller",
    "Garcia",
    "Rossi",
    "Dubois",
    "Jansen",
    "Novak",
    "Kowalski",
    "Brown",
    "Silva",
    "Schmidt",
    "Martin",
    "Lopez",
    "Evans",
    "Weber",
    "Moreau",
    "Bakker",
    "Costa",
    "Walsh",
    "Berg",
)
# Customers live where their merchant sells: currency -> (country, [(city, postal code prefix)]).
MARKETS = {
    "USD": ("US", (("Austin", "787"), ("Denver", "802"), ("Portland", "972"), ("Boston", "021"))),
    "EUR": ("DE", (("Berlin", "101"), ("Hamburg", "203"), ("Munich", "803"), ("Cologne", "506"))),
    "GBP": ("GB", (("London", "EC1"), ("Leeds", "LS1"), ("Bristol", "BS1"), ("Glasgow", "G1 "))),
}
STREETS = ("Main St", "Oak Avenue", "Station Road", "Market Square", "Hill Lane", "River Walk", "Park Road")
MERCHANT_WORDS = ("Northwind", "Bluebird", "Cedar", "Harbor", "Maple", "Summit", "Juniper", "Lantern")
MERCHANT_KINDS = ("Outfitters", "Goods", "Trading Co.", "Market", "Supply", "Emporium", "Studio")
CARRIERS = ("DHL", "UPS", "FedEx", "Royal Mail", "USPS", "DPD")


def category(rng: random.Random) -> str:
    return rng.choices(_CATEGORY_NAMES, weights=_CATEGORY_WEIGHTS)[0]


def product_name(rng: random.Random, cat: str) -> str:
    return f"{rng.choice(ADJECTIVES)} {rng.choice(COLOURS)} {rng.choice(NOUNS[cat])}"


def price_amount(rng: random.Random, cat: str) -> int:
    """Log-normal around the category's median (sigma 0.6: most within 0.3x-3x), ending in 99."""
    raw = _MEDIAN_PRICE[cat] * math.exp(rng.gauss(0.0, 0.6))
    return max(99, int(raw // 100) * 100 + 99)


def initial_stock(rng: random.Random) -> int:
    if rng.random() < 0.03:
        return 0  # sold out at creation: restocked only if someone orders it
    return max(1, int(math.exp(rng.gauss(math.log(40), 0.9))))


def attributes(rng: random.Random, cat: str) -> dict[str, str]:
    attrs = {"colour": rng.choice(COLOURS)}
    if cat == "Clothing":
        attrs["size"] = rng.choice(SIZES)
    return attrs


def tags(rng: random.Random) -> list[str]:
    return sorted(rng.sample(TAGS, k=rng.choice((0, 0, 1, 1, 2))))


def merchant_name(rng: random.Random, prefix: str, index: int) -> str:
    return f"{prefix} {rng.choice(MERCHANT_WORDS)} {rng.choice(MERCHANT_KINDS)} #{index + 1}"


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    address: dict[str, str]


def customer(rng: random.Random, currency: str, number: int) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country, cities = MARKETS[currency]
    city, postal = rng.choice(cities)
    address = {
        "name": f"{first} {last}",
        "line1": f"{rng.randint(1, 240)} {rng.choice(STREETS)}",
        "city": city,
        "postal_code": f"{postal}{rng.randint(10, 99)}".strip(),
        "country": country,
    }
    domain = rng.choice(("example.com", "example.org", "example.net"))
    return Customer(f"{first} {last}", f"{first}.{last}.{number}@{domain}".lower(), address)


def line_count(rng: random.Random) -> int:
    return rng.choices((1, 2, 3, 4), weights=(55, 25, 12, 8))[0]


def quantity(rng: random.Random) -> int:
    return rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
