"""Write ``scrm_lib/ingest/cn_places.py``: Chinese province and city names, from phonenumbers.

libphonenumber's geocoding data names the province and prefecture-level city
of every +86 mobile prefix in Chinese (``浙江省杭州市``). That is the one
well-kept, installed source of the list; loading it at run time costs about
3 s and 19 MB (every country's data), so the short names are frozen into a
small module by this script. Run it again after a phonenumbers upgrade:

    .venv/bin/python scripts/make_cn_places.py
"""

from __future__ import annotations

import re
from pathlib import Path

from phonenumbers.geodata import GEOCODE_DATA

OUT = Path(__file__).resolve().parents[1] / "scrm_lib" / "ingest" / "cn_places.py"
# The 34 provincial units are fixed; the cities and counties come from the data.
PROVINCE_NAMES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|"
    "湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
PROVINCE = re.compile(
    rf"^({PROVINCE_NAMES})(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)?(.*)$"
)
# Autonomous prefectures are named after their peoples: 大理白族自治州 → 大理.
PEOPLES = "白|傣|景颇|傈僳|壮|苗|彝|哈尼|藏|羌|朝鲜|土家|布依|侗|回|蒙古|哈萨克|柯尔克孜|黎|瑶"
PREFECTURE = re.compile(rf"^(.+?)(?:(?:{PEOPLES})族?)+自治州$")
# All of them, including those outside +86 numbering (香港, 澳门, 台湾).
EXTRA_PROVINCES = tuple(PROVINCE_NAMES.split("|"))


def short(name: str) -> str:
    m = PREFECTURE.match(name)
    if m:
        return m.group(1)
    for suffix in ("市", "地区", "林区", "盟", "县"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def main() -> None:
    provinces: set[str] = set(EXTRA_PROVINCES)
    cities: set[str] = set()
    for key, names in GEOCODE_DATA.items():
        zh = names.get("zh")
        if not key.startswith("86") or not zh:
            continue
        m = PROVINCE.match(zh)
        if not m:
            continue
        provinces.add(m.group(1))
        parts = [c for c in m.group(2).split("、") if c]
        # Counties listed after a city (西藏那曲地区、尼玛县、双湖) are left out: some
        # are also given names (尼玛), and a remark names its city, not its county.
        cities.update(
            short(c)
            for c in parts
            if len(parts) == 1 or c.endswith(("市", "州", "盟", "地区", "林区"))
        )
    cities -= provinces
    bad = sorted(c for c in cities | provinces if "族" in c or "自治" in c)
    if bad:
        raise SystemExit(f"unparsed names: {bad}")
    lines = [
        '"""Chinese province and prefecture-level city short names (generated; do not edit).',
        "",
        "Made by ``scripts/make_cn_places.py`` from phonenumbers' +86 geocoding data.",
        '"""',
        "",
        "PROVINCES = frozenset(",
        "    {",
        *[f'        "{p}",' for p in sorted(provinces)],
        "    }",
        ")",
        "",
        "CITIES = frozenset(",
        "    {",
        *[f'        "{c}",' for c in sorted(cities)],
        "    }",
        ")",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
