"""Operator packs: reading what an operator brings (a help-center export, labelled tickets) into the pack's records."""
