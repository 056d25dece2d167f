"""Territory routing (tessera_shared.teams): a rule with both parts must match both; the most
specific matching rule wins; a tie goes to the lowest team key; None in a rule matches anything."""

from __future__ import annotations

import uuid

from tessera_shared.teams import Team, match_territory, specificity


def team(key: str, *rules: tuple[str | None, str | None]) -> Team:
    return Team(uuid.uuid4(), key, key.title(), None, frozenset(), tuple(rules))


def test_specificity() -> None:
    assert specificity(("DE", "Bavaria"), "de", " bavaria ") == 2
    assert specificity(("DE", "Bavaria"), "DE", "Saxony") is None
    assert specificity(("DE", "Bavaria"), "DE", None) is None
    assert specificity(("DE", None), "DE", "Saxony") == 1
    assert specificity((None, "Bavaria"), "AT", "Bavaria") == 1
    assert specificity((None, None), None, None) == 0
    assert specificity(("FR", None), None, None) is None


def test_the_most_specific_rule_wins_and_a_tie_goes_to_the_lowest_key() -> None:
    germany = team("dach", ("DE", None), ("AT", None))
    bavaria = team("south", ("DE", "Bavaria"))
    anywhere = team("catch-all", (None, None))
    also_germany = team("b-team", ("DE", None))
    teams = [germany, bavaria, anywhere, also_germany]
    assert match_territory(teams, "DE", "Bavaria") is bavaria
    assert match_territory(teams, "DE", "Saxony") is also_germany  # b-team < dach
    assert match_territory(teams, "AT", None) is germany
    assert match_territory(teams, "US", "Texas") is anywhere
    assert match_territory([germany, bavaria], "US", None) is None
    assert match_territory([], "DE", None) is None
