"""Submissions (validated, re-verified bundles of a family's runs) and the static leaderboard site built from them."""
