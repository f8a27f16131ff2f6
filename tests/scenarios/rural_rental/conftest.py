"""The rural-rental world's fixtures (``w``, ``house``) for every test module here."""
from tests.scenarios.rural_rental.test_rural_rental import house, w  # noqa: F401
