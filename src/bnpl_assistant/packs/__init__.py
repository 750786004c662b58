"""Operator packs: the folder with everything domain-specific, and onboarding one from a help center and tickets."""
