"""Standardisers: raw strings to typed, canonical values as pure Spark Column functions.

Each returns NULL, never raises, for a blank value or one that is not valid for its type, so
"raw value not blank but standardised value NULL" means "invalid" downstream.
"""

from lakehouse.transform.dates import parse_date
from lakehouse.transform.numeric import to_integer, to_number
from lakehouse.transform.phones import phone_e164
from lakehouse.transform.standardise import standardise, standardise_column
from lakehouse.transform.text import clean_email, clean_name, clean_text, zip5
from lakehouse.transform.timestamps import parse_timestamp

__all__ = [
    "clean_email",
    "clean_name",
    "clean_text",
    "parse_date",
    "parse_timestamp",
    "phone_e164",
    "standardise",
    "standardise_column",
    "to_integer",
    "to_number",
    "zip5",
]
