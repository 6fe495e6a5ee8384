"""Character error rate, as every accuracy check in the tests measures it:
NFKC, all whitespace removed, Levenshtein distance over characters divided
by the reference length (the convention of ocr_gt's BASELINE tsv)."""
import unicodedata


def canon(s):
    return "".join(unicodedata.normalize("NFKC", s).split())


def levenshtein(a, b):
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(reference, hypothesis):
    ref, hyp = canon(reference), canon(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return levenshtein(ref, hyp) / len(ref)
