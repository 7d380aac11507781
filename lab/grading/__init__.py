"""Grading the explanations, in four parts: ``measure`` (one map against what really happened in a clip), ``runner``
(clips of a corpus through every method into one table), ``verdicts`` (a table into words and rankings) and
``stored`` (reports on disk)."""
