"""Channels: acquisition attribution, channel value per 活码 / campaign / staff, the journey funnel.

Every person gets the channel that acquired them (first touch, or last touch
before the first order, across WeCom, mini-program, Douyin and referrals,
with the evidence); each channel gets the value of the persons it brought
(conversion, GMV per person at 30/90/365 days, CLV, churn risk, cost, CAC,
ROI, each with an interval); each staff member their contacts, losses and
response time; and the journey its funnel with the worst step marked.
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "acquisition": ".analysis:acquisition",
        "attribution": ".analysis:attribution",
        "channel_value": ".analysis:channel_value",
        "staff_view": ".analysis:staff_view",
        "journey_funnel": ".analysis:journey_funnel",
        "unknown_codes": ".analysis:unknown_codes",
    },
)
