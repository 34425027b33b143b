"""The most common words of a text, written the slow way on purpose.

`top_words` is what the benchmark times. Make it faster; it must keep returning exactly the
same list (ties are ordered alphabetically).
"""

from __future__ import annotations

# How words are counted: "scan" searches a list of [word, count] pairs for every word, "dict"
# counts in a dictionary, "counter" uses collections.Counter.
STRATEGY = "scan"
# How the top words are picked: "sort" sorts every (count, word) pair, "heap" keeps the best n.
SELECT = "sort"

PUNCTUATION = ".,;:!?\"'()"


def words_of(text: str) -> list[str]:
    words = []
    for line in text.splitlines():
        for raw in line.split():
            word = raw.strip(PUNCTUATION).lower()
            if word:
                words.append(word)
    return words


def count(words: list[str]) -> dict[str, int]:
    if STRATEGY == "counter":
        from collections import Counter

        return dict(Counter(words))
    if STRATEGY == "dict":
        counts: dict[str, int] = {}
        for word in words:
            counts[word] = counts.get(word, 0) + 1
        return counts
    pairs: list[list] = []
    for word in words:
        for pair in pairs:
            if pair[0] == word:
                pair[1] += 1
                break
        else:
            pairs.append([word, 1])
    return {word: n for word, n in pairs}


def top_words(text: str, n: int = 20) -> list[tuple[str, int]]:
    counts = count(words_of(text))
    if SELECT == "heap":
        import heapq

        best = heapq.nsmallest(n, counts.items(), key=lambda item: (-item[1], item[0]))
        return [(word, c) for word, c in best]
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]
