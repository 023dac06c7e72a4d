"""Late-payment law: packs (EU, France, Germany, UK), reference-rate timelines, claims."""

from hub.law.packs import BY_COUNTRY, PACKS, Claim, claim, company_pack, pack_for
from hub.law.rates import Series, load

__all__ = ["BY_COUNTRY", "PACKS", "Claim", "Series", "claim", "company_pack", "load", "pack_for"]
