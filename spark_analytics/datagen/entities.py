"""Reference data for the synthetic generator: merchant categories, names, countries.

Everything here is constant or a pure function of a numpy ``Generator``, so the customer and
merchant tables are deterministic for a given seed. The category list must stay identical to the
committed dbt seed ``seeds/merchant_categories.csv`` (a test checks it).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    is_discretionary: bool
    log_amount_offset: float  # added to a customer's log spend level for this category
    share: float  # share of merchants in this category
    kinds: tuple[str, ...]  # words that make a merchant name sound like the category


CATEGORIES: tuple[Category, ...] = (
    Category("GROC", "Groceries", False, -0.45, 0.16, ("Market", "Grocers", "Foods", "Épicerie")),
    Category("REST", "Restaurants", True, -0.55, 0.18, ("Bistro", "Café", "Grill", "Kitchen")),
    Category("TRVL", "Travel", True, 0.85, 0.06, ("Travel", "Tours", "Airways", "Voyages")),
    Category("ELEC", "Electronics", True, 0.55, 0.07, ("Electronics", "Tech", "Digital")),
    Category("FASH", "Fashion", True, 0.05, 0.10, ("Boutique", "Apparel", "Mode")),
    Category("HOME", "Home & Garden", True, 0.25, 0.07, ("Home", "Garden", "Interiors")),
    Category("HLTH", "Health & Pharmacy", False, -0.35, 0.07, ("Pharmacy", "Health", "Clinic")),
    Category("ENTM", "Entertainment", True, -0.25, 0.07, ("Cinema", "Games", "Tickets")),
    Category("FUEL", "Fuel", False, -0.40, 0.07, ("Fuel", "Petrol", "Gas")),
    Category("UTIL", "Utilities", False, -0.10, 0.05, ("Energy", "Telecom", "Water")),
    Category("EDUC", "Education", False, 0.30, 0.04, ("Academy", "School", "Books")),
    Category("JEWL", "Jewelry", True, 1.05, 0.06, ("Jewelers", "Gems", "Bijoux")),
)

# country code and weight; customers and merchants draw from the same distribution
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 0.30), ("GB", 0.10), ("DE", 0.10), ("FR", 0.08), ("ES", 0.06), ("IT", 0.05),
    ("NL", 0.04), ("SE", 0.03), ("PL", 0.04), ("BR", 0.05), ("CA", 0.05), ("AU", 0.03),
    ("IN", 0.04), ("JP", 0.02), ("MX", 0.01),
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Daniel", "Karen", "José", "María", "Zoë", "Renée", "Björn", "François", "Chloé", "Jürgen",
    "Ana", "Luca", "Sofia", "Mateo", "Emma", "Noah", "Olivia", "Liam", "Aarav", "Yuki", "Ingrid",
    "Søren",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Martin",
    "Müller", "García", "Núñez", "Schröder", "Dubois", "Lefèvre", "O'Brien", "Nguyen", "Kowalski",
    "Rossi", "Silva", "Sato", "Patel", "Andersson", "van Dijk", "Jensen", "Novak", "Costa",
    "Fischer", "Byrne", "Murphy", "Ivanova",
)  # fmt: skip

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example")

MERCHANT_ADJECTIVES: tuple[str, ...] = (
    "Blue", "Golden", "Silver", "Green", "Royal", "Urban", "Happy", "Sunny", "Northern", "Pacific",
    "Crème", "Old Town", "Corner", "Grand", "Little", "Bright", "Señor", "Zürich", "São Paulo",
    "Red Rock", "Maple", "Harbor", "Summit", "River", "Lakeside", "Metro", "Prime", "Noble",
)  # fmt: skip

MERCHANT_SUFFIXES: tuple[str, ...] = (
    " inc.", " Inc", ", Inc.", " LLC", ", LLC", " llc", " Ltd.", " Ltd", " GmbH", " & Co.",
    " Co", " S.A.", " corp", " Corp.",
)  # fmt: skip


def ascii_fold(text: str) -> str:
    """'Müller O'Brien' -> 'muller obrien' style folding used for e-mail local parts."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O"))
    kept = "".join(ch for ch in decomposed if ch.isascii() and (ch.isalnum() or ch == " "))
    return kept.lower().replace(" ", "")


def _messy_case(rng: np.random.Generator, name: str) -> str:
    roll = rng.random()
    if roll < 0.2:
        return name.upper()
    if roll < 0.4:
        return name.lower()
    if roll < 0.5:  # per-word random case: "GOLDEN harbor Grill"
        words = name.split(" ")
        return " ".join(w.upper() if rng.random() < 0.5 else w.lower() for w in words)
    return name


def _messy_spacing(rng: np.random.Generator, name: str) -> str:
    if rng.random() < 0.3 and " " in name:
        name = name.replace(" ", "  ", 1)
    roll = rng.random()
    if roll < 0.1:
        name = " " + name
    elif roll < 0.2:
        name = name + "  "
    return name


def _messy_punctuation(rng: np.random.Generator, name: str) -> str:
    roll = rng.random()
    if roll < 0.06:
        return name + "!"
    if roll < 0.12:
        return name.replace(" ", "-", 1)
    if roll < 0.16:
        return name + "."
    if roll < 0.20:
        return name.replace(" ", "'s ", 1)
    return name


def messy_merchant_name(rng: np.random.Generator, base: str) -> str:
    """A deliberately messy spelling of a clean merchant brand name."""
    name = _messy_punctuation(rng, base)
    if rng.random() < 0.4:
        name = name + MERCHANT_SUFFIXES[int(rng.integers(len(MERCHANT_SUFFIXES)))]
    if rng.random() < 0.1:  # some sources lose the accents
        name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _messy_spacing(rng, _messy_case(rng, name))


def merchant_base_names(rng: np.random.Generator, category_idx: np.ndarray) -> list[str]:
    """Clean brand names; about 15% of merchants share a brand with an earlier merchant of the
    same category (different spelling in the raw data), so name normalisation matters."""
    names: list[str] = []
    by_category: dict[int, list[str]] = {}
    for cat in category_idx.tolist():
        seen = by_category.setdefault(cat, [])
        if seen and rng.random() < 0.15:
            base = seen[int(rng.integers(len(seen)))]
        else:
            adjective = MERCHANT_ADJECTIVES[int(rng.integers(len(MERCHANT_ADJECTIVES)))]
            kinds = CATEGORIES[cat].kinds
            base = f"{adjective} {kinds[int(rng.integers(len(kinds)))]}"
            seen.append(base)
        names.append(base)
    return names
