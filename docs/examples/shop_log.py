"""Write a small, realistic shop log to bring to lmrec as your own data.

    python docs/examples/shop_log.py shop

writes shop/events.csv (customer,product,event,weight,when: views weigh 1, carts 2,
purchases 3; the same customer often views a product several times before buying it),
shop/products.csv (sku,title,category,description) and shop/new_products.csv (three
products the log has never seen, same columns). Like most exports it is not perfectly
clean: one line carries a stray quote. Standard library only; the same seed writes the
same files.
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

CATALOGUE = {
    "coffee": [
        ("Hand grinder", "ceramic burr hand grinder for espresso and filter coffee"),
        ("Pour-over dripper", "cone dripper for clean, bright filter coffee"),
        ("Gooseneck kettle", "kettle with a thin spout for a steady pour"),
        ("Espresso tamper", "stainless steel tamper that fits 58 mm baskets"),
        ("Milk jug", "steel jug for steaming milk and latte art"),
        ("Coffee scale", "scale with a timer, weighs to a tenth of a gram"),
        ("Paper filters", "one hundred unbleached paper filters for the dripper"),
        ("French press", "glass press for full-bodied coffee"),
        ("Whole beans, Ethiopia", "light roast beans with notes of jasmine and lemon"),
        ("Whole beans, Brazil", "medium roast beans with notes of nuts and chocolate"),
    ],
    "running": [
        ("Trail shoes", "grippy running shoes for mud and rocky paths"),
        ("Road shoes", "light cushioned shoes for the road and the track"),
        ("Running socks", "three pairs of thin socks that stop blisters"),
        ("Hydration vest", "vest with two soft flasks for long runs"),
        ("Head torch", "bright rechargeable torch for running in the dark"),
        ("Rain jacket", "packable waterproof jacket for runners"),
        ("Energy gels", "box of twelve gels for race day"),
        ("Running cap", "light cap that keeps sun and rain out of your eyes"),
        ("GPS watch", "watch that tracks pace, distance and heart rate"),
        ("Foam roller", "roller to loosen tired legs after a run"),
    ],
    "kitchen": [
        ("Chef's knife", "sharp twenty centimetre knife for everyday cooking"),
        ("Cast iron pan", "heavy pan that sears steak and bakes cornbread"),
        ("Cutting board", "large oak board that is kind to knives"),
        ("Dutch oven", "enamelled pot for stews, soups and bread"),
        ("Knife sharpener", "whetstone to keep kitchen knives sharp"),
        ("Spice jars", "set of twelve glass jars with labels"),
        ("Mixing bowls", "three stainless steel bowls that nest"),
        ("Digital thermometer", "instant-read thermometer for meat and sugar"),
        ("Pasta machine", "hand-cranked machine for fresh pasta sheets"),
        ("Bread proofing basket", "rattan basket for shaping sourdough"),
    ],
    "camping": [
        ("Two-person tent", "light tent for two that pitches in minutes"),
        ("Sleeping bag", "down sleeping bag, warm to minus five degrees"),
        ("Camping stove", "small gas stove that boils water in three minutes"),
        ("Sleeping mat", "inflatable mat that packs to the size of a bottle"),
        ("Water filter", "filter that makes stream water safe to drink"),
        ("Camp mug", "insulated steel mug with a lid"),
        ("Trekking poles", "folding poles that save your knees on descents"),
        ("Backpack 40 l", "forty litre pack for weekends in the hills"),
        ("Camp lantern", "rechargeable lantern that lights the whole tent"),
        ("First aid kit", "compact kit for cuts, blisters and stings"),
    ],
}
NEW_PRODUCTS = [
    ("p-coffee-11", "Cold brew jar", "coffee", "jar with a mesh filter for cold brew coffee"),
    ("p-running-11", "Running belt", "running", "slim belt for a phone and keys on a run"),
    ("p-camping-11", "Camp chair", "camping", "folding chair that packs into its own bag"),
]
EVENTS = (("view", 1, 0.72), ("cart", 2, 0.18), ("purchase", 3, 0.10))
START = datetime(2024, 3, 1, 8, 0, 0)


def products() -> list[tuple[str, str, str, str]]:
    return [
        (f"p-{category}-{i + 1:02d}", title, category, description)
        for category, items in CATALOGUE.items()
        for i, (title, description) in enumerate(items)
    ]


def events(rng: random.Random, n_customers: int = 160) -> list[tuple[str, str, str, int, str]]:
    by_category: dict[str, list[str]] = {}
    for sku, _, category, _ in products():
        by_category.setdefault(category, []).append(sku)
    categories = list(by_category)
    rows = []
    for c in range(n_customers):
        customer = f"c{c + 1:03d}"
        main, second = rng.sample(categories, 2)
        when = START + timedelta(minutes=rng.randrange(60 * 24 * 50))
        for _ in range(rng.randrange(4, 12)):  # sessions
            pick = rng.random()
            category = main if pick < 0.7 else second if pick < 0.9 else rng.choice(categories)
            # popular products first: a few sell far more than the rest
            skus = by_category[category]
            product = skus[min(int(rng.expovariate(0.35)), len(skus) - 1)]
            for _ in range(rng.randrange(1, 4)):  # the same product viewed again, carted...
                name, weight, _ = rng.choices(EVENTS, weights=[e[2] for e in EVENTS])[0]
                rows.append((customer, product, name, weight, when.isoformat()))
                when += timedelta(minutes=rng.randrange(1, 30))
            when += timedelta(hours=rng.randrange(2, 24 * 5))
    rows.sort(key=lambda r: r[4])
    return rows


def main(out: Path) -> None:
    rng = random.Random(7)
    out.mkdir(parents=True, exist_ok=True)
    rows = events(rng)
    with open(out / "events.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer", "product", "event", "weight", "when"])
        writer.writerows(rows)
    # A hand-edited export: one line with a quote that is never closed.
    lines = (out / "events.csv").read_text().splitlines(keepends=True)
    customer, product, _, weight, when = lines[500].rstrip("\n").split(",")
    lines[500] = f'{customer},{product},"view,{weight},{when}\n'
    (out / "events.csv").write_text("".join(lines))
    for name, table in (("products.csv", products()), ("new_products.csv", NEW_PRODUCTS)):
        with open(out / name, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["sku", "title", "category", "description"])
            writer.writerows(table)
    print(f"wrote {out / 'events.csv'} ({len(rows):,} events), products.csv, new_products.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "shop"))
