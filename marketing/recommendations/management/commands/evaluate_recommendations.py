"""manage.py evaluate_recommendations: the recommender's figures against popularity, random and
two reference models, on the store's history and on MovieLens (docs/recommendations-evaluation.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from marketing.recommendations import evaluation


class Command(BaseCommand):
    help = (
        "Precision, recall, NDCG and hit rate at k of the store's recommender, popularity, random, "
        "ALS and EASE, on the store's paid orders (each customer's last order held out) and on "
        "MovieLens latest-small (random 80/20 per user, and the last rating held out)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", choices=["store", "movielens", "all"], default="all")
        parser.add_argument("--seed", type=int, default=evaluation.SEED, help="Seeds the splits, ALS and random.")
        parser.add_argument("--k", type=int, default=evaluation.K, help="How many recommendations are scored.")
        parser.add_argument(
            "--scale",
            action="store_true",
            help="Instead: time similar_items (as shipped, and RP3beta) on a synthetic history of 200,000 "
            "users, 10,000 products and 1.2 million interactions (and the reference EASE's fit with --ease).",
        )
        parser.add_argument(
            "--ease", action="store_true", help="With --scale: time the reference EASE too (float64, needs 2 GB)."
        )

    def handle(self, *args, dataset, seed, k, scale, ease, **options):
        if k < 1:
            raise CommandError("--k must be 1 or more.")
        started = time.perf_counter()
        progress = self._progress(started)
        if scale:
            for line in evaluation.scale_check(ease_too=ease, progress=progress):
                self.stdout.write(line)
            return
        results = []
        if dataset in ("store", "all"):
            try:
                results += evaluation.store_results(k=k, seed=seed, progress=progress)
            except evaluation.NoHistory as error:
                raise CommandError(f"The store's history cannot be evaluated: {error}.") from error
        if dataset in ("movielens", "all"):
            try:
                results += evaluation.movielens_results(
                    load=evaluation.load_movielens, k=k, seed=seed, progress=progress
                )
            except RuntimeError as error:
                raise CommandError(str(error)) from error
        self.stdout.write(evaluation.table(results, k=k))
        self.stdout.write(f"\nseed {seed}, k {k}, {time.perf_counter() - started:.0f} s")

    def _progress(self, started: float):
        def say(message: str) -> None:
            self.stderr.write(f"[{time.perf_counter() - started:6.1f}s] {message}")

        return say
