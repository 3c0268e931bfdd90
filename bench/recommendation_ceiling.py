"""How far any recommender can beat buy-again on the order-line profile: rankings that read
the generator's hidden state, scored on the same split as bench/recommendations.py.

    .venv/bin/python bench/recommendation_ceiling.py DATA_DIR [--cutoff 2026-09-17] [--horizon 14]

DATA_DIR is the orders folder written by ``bench/recommendations.py --keep DIR`` (DIR/orders,
generated with the profile's defaults: seed 7, 4,000 customers, 3,500 products, 365 days from
2025-10-01, closed Saturdays). The generator's customers are rebuilt from the same seed, which
exposes what no model can see: each customer's taste list (the order in which they take up
products, favourites first) and their theme preferences. Printed, recall@10 over the users
with purchases before the cutoff who buy in the horizon:

- buy-again (60-day half-life) and most-bought: the baselines;
- favourites (clairvoyant): the user's bought items in their true preference order;
- expected preference: the best a model can do without seeing the random draws, i.e. the
  bought items first (true order), then unseen items by the customer's true expected
  preference (log popularity + theme preference): the ceiling for any non-clairvoyant model;
- taste list (clairvoyant): bought items, then the next products on the customer's actual
  taste list.
"""

import argparse
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np

from profiling_assets import synthetic as S

SEED, USERS, PRODUCTS, DAYS, START = 7, 4000, 3500, 365, date(2025, 10, 1)


def customers_with_preferences() -> tuple:
    """The profile's catalogue and customers, with each customer's theme preference kept
    (the generator draws it and uses it only to order the taste list)."""
    original = S._Customers._tastes

    def keep(self, rng, catalogue):
        state = rng.bit_generator.state
        self.theme_pref = np.log(rng.dirichlet(np.full(S.N_THEMES, 0.6), self.n) + 1e-9)
        rng.bit_generator.state = state  # the same draws as the generator makes
        return original(self, rng, catalogue)

    closed = S._parse_weekdays("sat")
    catalogue = S._OrderCatalogue(S._rng(SEED, 201), PRODUCTS)
    S._Customers._tastes = keep
    try:
        customers = S._Customers(S._rng(SEED, 202), USERS, catalogue, 7 - len(closed), DAYS)
    finally:
        S._Customers._tastes = original
    return catalogue, customers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--cutoff", type=date.fromisoformat, default=date(2026, 9, 17))
    parser.add_argument("--horizon", type=int, default=14)
    args = parser.parse_args()
    cat, cust = customers_with_preferences()
    row = {uid: i for i, uid in enumerate(cust.ids)}
    cut, end = args.cutoff, args.cutoff + timedelta(days=args.horizon - 1)
    with duckdb.connect(str(args.data_dir / "warehouse.duckdb"), read_only=True) as con:
        hist = con.execute(
            "SELECT user_id, product_id, count(*) AS n, max(event_date) AS last, "
            "sum(pow(0.5, (?::DATE - event_date) / 60.0)) AS recency FROM clean.events "
            "WHERE event_type = 'purchase' AND product_id IS NOT NULL AND event_date < ? "
            "AND event_date >= ?::DATE - 365 GROUP BY ALL", [cut, cut, cut]).df()
        truth = con.execute(
            "SELECT DISTINCT user_id, product_id FROM clean.events WHERE event_type = 'purchase' "
            "AND product_id IS NOT NULL AND event_date BETWEEN ? AND ?", [cut, end]).df()
    truth = truth[truth["user_id"].isin(set(hist["user_id"]))].groupby("user_id")["product_id"].agg(set)
    slot_of = {}
    for uid, i in row.items():
        for k, p in enumerate(cust.taste[i][: cust.taste_len[i]]):
            slot_of[(uid, cat.ids[p])] = k
    hist["slot"] = [slot_of.get(key, 10**6) for key in zip(hist["user_id"], hist["product_id"])]

    lists: dict[str, dict[str, list[str]]] = {k: {} for k in (
        "buy-again (60-day half-life)", "most bought", "favourites (clairvoyant)",
        "expected preference (no model can do better)", "taste list (clairvoyant)")}
    for uid, g in hist.groupby("user_id"):
        i = row[uid]
        bought = set(g["product_id"])
        favourites = g.sort_values("slot")["product_id"].tolist()
        keys = cat.log_pop + cust.theme_pref[i][cat.theme]
        expected = [cat.ids[p] for p in np.argsort(-keys)[:500] if cat.ids[p] not in bought]
        upcoming = [cat.ids[p] for p in cust.taste[i][: cust.taste_len[i]] if cat.ids[p] not in bought]
        lists["buy-again (60-day half-life)"][uid] = g.sort_values(["recency", "n"], ascending=False)["product_id"].tolist()
        lists["most bought"][uid] = g.sort_values(["n", "last"], ascending=False)["product_id"].tolist()
        lists["favourites (clairvoyant)"][uid] = favourites
        lists["expected preference (no model can do better)"][uid] = favourites + expected
        lists["taste list (clairvoyant)"][uid] = favourites + upcoming

    owned = hist.groupby("user_id")["product_id"].agg(set)

    def recall(ranked: dict[str, list[str]], keep_own: int = 10) -> float:
        """Recall@10 of lists that keep at most ``keep_own`` of the user's bought items."""
        out = []
        for uid, items in truth.items():
            own = [p for p in ranked[uid] if p in owned[uid]]
            picked = (own[:keep_own] + [p for p in ranked[uid] if p not in own])[:10]
            out.append(len(set(picked) & items) / len(items))
        return float(np.mean(out))

    base = recall(lists["buy-again (60-day half-life)"])
    print(f"{len(truth)} users buy in {cut}..{end}; recall@10 (x buy-again):")
    for name, ranked in lists.items():
        best = max(range(11), key=lambda k: recall(ranked, k)) if "preference" in name or "taste" in name else 10
        r = recall(ranked, best)
        places = f", best with {best} own items" if best != 10 else ""
        print(f"  {name}: {r:.4f} ({r / base:.2f}x{places})")


if __name__ == "__main__":
    main()
