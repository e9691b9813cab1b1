"""Realistic sample data: raw platform exports plus the ground truth behind them.

The generator simulates people, gives them accounts on Tmall, Douyin,
Youzan, the WeChat mini-program and WeCom, lets them buy (buy-till-you-die
with seasonality), chat, refer friends and receive campaigns, and writes
what each platform would export (``out/exports/``, exactly per
``docs/raw-formats.md``) and what really happened (``out/truth/``).
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "generate_sample": ".generator:generate",
    },
)
