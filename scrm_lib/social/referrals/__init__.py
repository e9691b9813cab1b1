"""Referrals and KOC: the fission graph after OneID, campaigns, abuse and the KOC pool.

Every invite link, group-buy leader and distributor link becomes an edge
between persons; the closure (any depth, safe on rings) gives each person
their downstream persons and GMV without double counting, their generation,
leader and distributor sales and the rewards they earned. Each fission
campaign gets its seeds, K-factor, generations, reward cost per acquired
person and the retention of the persons it brought beside other channels';
abuse is flagged with evidence; the KOC score ranks who brings buyers and
speaks well, and the pool (核心KOC / 潜力KOC) becomes tags.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "referral_summary": ".analysis:referral_summary",
        "referral_person": ".analysis:referral_person",
        "referral_campaigns": ".analysis:referral_campaigns",
        "referral_abuse": ".analysis:referral_abuse",
        "koc_scores": ".analysis:koc_scores",
        "referral_chain": ".analysis:referral_chain",
    },
)
