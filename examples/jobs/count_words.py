"""A job kept in its own file: `podium push` inlines it into the workflow's version."""

from podium.job import param, set_output

text = param("text")
words = text.split()
print(f"{len(words)} words, {len(set(words))} distinct")
set_output("words", len(words))
