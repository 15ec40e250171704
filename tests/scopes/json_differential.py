#!/usr/bin/python3
"""Differential test of dmcp_scope_error_to_json() against Python's json.dumps(indent=2).

The expected body is computed here from the seed's semantics (descope-wire-protocol.md §6):
missing = required scopes absent from the token, in required order, de-duplicated; scope =
sorted(set(token) | set(required)) joined by SP; description = caller text (even "") or the
default sentence. Inputs are generated from a fixed seed (reproducible) and cover unicode
(BMP and astral), every control character, quotes, backslashes, '/', DEL, empty lists,
duplicates and empty descriptions. Cases the library must refuse are checked too.
"""
import json
import random
import subprocess
import sys

MAX_SCOPES = 256
MAX_SCOPE_LEN = 256


def expected(required, token, description):
    missing = []
    for r in required:
        if r not in token and r not in missing:
            missing.append(r)
    desc = description
    if desc is None:
        desc = "Token missing required scopes: " + ", ".join(missing)
    obj = {
        "error": "insufficient_scope",
        "scope": " ".join(sorted(set(token) | set(required))),
        "error_description": desc,
        "missing_scopes": missing,
        "token_scopes": token,
        "required_scopes": required,
    }
    return json.dumps(obj, indent=2)


ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz.:-_",
    "".join(chr(c) for c in range(1, 0x20)) + "\x7f",
    "\"\\/' ",
    "éüßñ€ä中文日本語",
    "\u0080\u00ff\u0100\u07ff\u0800\ufeff\uffff\ud7ff\ue000",
    "\U0001F600\U00010000\U0010FFFF\U0001D11E",
]


def rand_scope(rng):
    n = rng.choice([0, 1, 3, 8, 20])
    pool = "".join(rng.sample(ALPHABETS, rng.randint(1, len(ALPHABETS))))
    return "".join(rng.choice(pool) for _ in range(n))


def rand_case(rng):
    base = [rand_scope(rng) for _ in range(rng.randint(0, 6))]

    def pick():
        out = []
        for _ in range(rng.choice([0, 0, 1, 2, 4, 7])):
            if base and rng.random() < 0.6:
                out.append(rng.choice(base))  # overlaps and duplicates
            else:
                out.append(rand_scope(rng))
        return out

    required = pick()
    token = pick()
    r = rng.random()
    if r < 0.5:
        desc = None
    elif r < 0.6:
        desc = ""
    else:
        desc = rand_scope(rng) + " " + rand_scope(rng)
    return required, token, desc


def main():
    tool = sys.argv[1]
    rng = random.Random(20261126)
    cases = [
        (["calendar.read"], ["read", "write"], None),  # wire §6 example
        ([], [], None),
        ([], [], ""),
        (["a", "a", "b"], ["b", "b"], None),
        (["z", "a"], ["m"], "custom"),
        (["\"q\"", "back\\slash", "sl/ash"], ["tab\there"], None),
        (["\U0001F600"], ["\u00e9"], "\x00x".replace("\x00", "\x01")),
        (["x" * MAX_SCOPE_LEN], ["y"] * MAX_SCOPES, None),
    ]
    cases += [rand_case(rng) for _ in range(3000)]
    # Refused: over the caps (the library says DMCP_E_TOO_LARGE rather than truncating).
    refused = [
        ((["x" * (MAX_SCOPE_LEN + 1)], [], None), "!DMCP_E_TOO_LARGE"),
        (([], ["y"] * (MAX_SCOPES + 1), None), "!DMCP_E_TOO_LARGE"),
        ((["y"] * (MAX_SCOPES + 1), [], None), "!DMCP_E_TOO_LARGE"),
    ]
    lines = []
    for (req, tok, desc) in cases + [c for c, _ in refused]:
        lines.append(json.dumps({"required": req, "token": tok, "description": desc}))
    proc = subprocess.run([tool], input=("\n".join(lines) + "\n").encode(),
                          stdout=subprocess.PIPE, timeout=100, check=False)
    outs = proc.stdout.split(b"\0")
    assert outs[-1] == b"", "output must end with a NUL separator"
    outs = outs[:-1]
    total = len(cases) + len(refused)
    if len(outs) != total:
        print(f"expected {total} outputs, got {len(outs)} (exit {proc.returncode})")
        return 1
    bad = 0
    for i, (req, tok, desc) in enumerate(cases):
        want = expected(req, tok, desc).encode("ascii")
        if outs[i] != want:
            bad += 1
            if bad <= 3:
                print(f"case {i} differs:\n input {json.dumps([req, tok, desc])}\n"
                      f" want {want!r}\n got  {outs[i]!r}")
    for j, (_, want) in enumerate(refused):
        got = outs[len(cases) + j].decode()
        if got != want:
            bad += 1
            print(f"refused case {j}: want {want}, got {got}")
    if proc.returncode != 0:
        print(f"tool exit {proc.returncode}")
        bad += 1
    print(f"{total - bad}/{total} cases identical to json.dumps(indent=2)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
