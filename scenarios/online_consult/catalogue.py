"""What may be renewed online, as data: per medicine, its class and limits (days of supply,
quantity in packs). Chronic medicines up to 30 days (长期处方 for stable chronic conditions);
others up to 7. A medicine not listed is not renewed online (``unknown_medicine``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Limit:
    kind: str  # chronic | other
    max_days: int
    max_quantity: int


CHRONIC, OTHER = Limit("chronic", 30, 6), Limit("other", 7, 2)

MEDICINES: dict[str, Limit] = {
    "二甲双胍片": CHRONIC,
    "阿卡波糖片": CHRONIC,
    "氨氯地平片": CHRONIC,
    "缬沙坦胶囊": CHRONIC,
    "阿托伐他汀钙片": CHRONIC,
    "阿司匹林肠溶片": CHRONIC,
    "左甲状腺素钠片": CHRONIC,
    "奥美拉唑肠溶胶囊": OTHER,
    "布洛芬缓释胶囊": OTHER,
}

PASS_VALID = timedelta(days=3)
"""A renewal's pass is valid three days (处方一般当日有效，特殊情况不超过3天)."""
