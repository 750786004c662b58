"""Outcome analytics of the live log (the operator's weekly questions): `report`."""
