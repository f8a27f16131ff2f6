"""The 25 kinds of key places (25 类重点场所) where the seed (L2) deploys place codes and
digital sentinels: residential areas, offices, commercial complexes, supermarkets, public
venues ... Slugs are stored; the Chinese names are shown."""
from __future__ import annotations

PLACE_KINDS: dict[str, str] = {
    "residential_community": "住宅小区",
    "village": "农村村组",
    "government_office": "党政机关",
    "office_building": "办公楼宇",
    "enterprise": "企业厂区",
    "shopping_mall": "商场",
    "supermarket": "超市",
    "farmers_market": "农贸市场",
    "restaurant": "餐饮",
    "hotel": "宾馆",
    "sports_venue": "体育场馆",
    "school": "学校",
    "childcare": "托育机构",
    "medical_institution": "医疗机构",
    "pharmacy": "药店",
    "elderly_care": "养老机构",
    "park": "公园",
    "scenic_spot": "景区",
    "cultural_venue": "文化场馆",
    "entertainment": "文化娱乐场所",
    "transport_hub": "交通场站",
    "public_transport": "公共交通",
    "bank": "银行网点",
    "service_hall": "政务服务中心",
    "construction_site": "建筑工地",
}

assert len(PLACE_KINDS) == 25, "the seed names 25 kinds of places"
