"""Generate seqtag's small synthetic sample data (stdlib only, deterministic).

Usage: python sample_data/make_sample_data.py [OUTPUT_DIR]   (default: the folder of this script)

Everything is built from the templates and word lists below; no corpus text is copied. The data is
sized so that a small BiLSTM-CRF learns something real in under a minute on two CPU cores:

* ner/{train,dev,test}.txt  CoNLL `token POS tag`, IOB2 tags PER/LOC/ORG/MISC. About 30% of the names
  of each type are held out of train, so dev/test need the character encoder and the context.
* vectors.txt               word2vec text format, dim 20; words of one class lie near a class centroid.
* cls/{train,dev,test}.tsv  `label<TAB>text` sentence classification (sports/business/weather).
* raw.txt                   a few lines of untokenized text using names seen in train.
* README.md                 what the files are.

Sets are never iterated (their order depends on PYTHONHASHSEED): every choice goes through sorted lists
and one seeded random.Random, so reruns are byte-identical.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

SEED = 20240611
N_NER = {"train": 1500, "dev": 300, "test": 300}
N_CLS = {"train": 900, "dev": 150, "test": 150}
HOLDOUT = 0.3
DIM = 20

# ---------------------------------------------------------------------------------------------------
# Entity lists. Ambiguous names (Jordan, Washington, Lincoln, Georgia, Chelsea, Victoria) appear in more
# than one list on purpose: only the context tells the type.

FIRST = """John Maria Michael Anna David Sarah Peter Laura James Elena Thomas Sofia Daniel Julia Carlos
Hannah Ahmed Yuki Olga Pierre Ravi Lucia Omar Ingrid Kevin Fatima Marco Chloe Jonas Priya George Georgia
Chelsea Victoria Tomasz Amara Henrik Mei Diego Nadia Felix Leila Samuel Zara Viktor Ines""".split()

LAST = """Smith Jordan Washington Lincoln Müller Garcia Rossi Tanaka Novak Kowalski Dubois Johnson Petrov
Silva Nakamura Okafor Schmidt Hughes Moreau Jensen Costa Ivanova Brennan Larsen Fischer Kim Patel Haddad
Weber Romano O'Neill Lindqvist Mbeki Alvarez Chen Horvath Castellano Adeyemi Sato Kovacs Berg""".split()

CITY = [
    "Berlin", "Paris", "London", "New York", "Los Angeles", "San Francisco", "Tokyo", "Madrid", "Rome",
    "Cairo", "Sydney", "Toronto", "Chicago", "Mumbai", "Lagos", "Oslo", "Vienna", "Prague", "Lisbon",
    "Hong Kong", "Rio de Janeiro", "Buenos Aires", "Washington", "Lincoln", "Victoria", "Amsterdam",
    "Dublin", "Nairobi", "Seoul", "Zurich", "Munich", "Boston", "Frankfurt", "Geneva", "Kraków", "Athens",
    "Helsinki", "Marseille", "Osaka", "Cape Town", "Santiago", "Montreal",
]
COUNTRY = [
    "Germany", "France", "Jordan", "Georgia", "Japan", "Brazil", "Kenya", "Canada", "Italy", "Spain",
    "India", "Egypt", "Norway", "South Africa", "New Zealand", "Mexico", "Poland", "Turkey", "Argentina",
    "Sweden", "Peru", "Chile", "Vietnam", "Australia", "Nigeria", "Portugal", "Greece", "Finland",
    "Austria", "Ireland", "South Korea", "Morocco",
]
CLUB = [
    "Real Madrid", "Manchester United", "Bayern Munich", "Chelsea", "Ajax", "Juventus", "Boca Juniors",
    "Celtic", "Porto", "Chicago Bulls", "Lakers", "Red Sox", "Benfica", "Galatasaray", "River Plate",
    "Olympiakos", "Inter Milan", "Hertha Berlin", "Northfield Rovers", "Eastgate City",
]
COMPANY = [
    "Deutsche Bank", "Siemens", "Acme Corp", "Globex", "Initech", "Nordwind Energy", "Blue Harbor Capital",
    "Vantor Systems", "Kestrel Airlines", "Orbis Media", "Halden Motors", "Tessaro Foods", "Meridian Bank",
    "Quanta Labs", "Solvay Pharma", "Brightwell Insurance", "Corvid Logistics", "Pellucid Software",
    "Stonebridge Group", "Altamira Mining", "Velora Telecom", "Harrow & Finch",
]
INST = [
    "United Nations", "Red Cross", "European Union", "World Bank", "NATO", "Reuters", "BBC", "Greenpeace",
    "Oxford University", "Supreme Court", "Labour Party", "IMF", "Interpol", "UNESCO",
    "World Health Organization", "Federal Reserve", "Amnesty International", "Sorbonne",
]
NAT = """German French Japanese Brazilian Kenyan Italian Spanish Indian Egyptian Norwegian Canadian Polish
Mexican Swedish Korean British American Dutch Irish Chinese Greek Finnish Turkish Nigerian Portuguese
Chilean""".split()
EVENT = [
    "World Cup", "Olympic Games", "Tour de France", "Champions League", "Grand Prix", "Super Bowl",
    "Davis Cup", "Ryder Cup", "Paris Marathon", "Copa America", "Six Nations", "Asian Games",
]
PRIZE = ["Nobel Prize", "Pulitzer Prize", "Booker Prize", "Fields Medal", "Golden Globe"]
FEST = ["Berlin Film Festival", "Cannes Film Festival", "Venice Biennale", "Edinburgh Fringe", "Sundance"]
LANG = "English French German Spanish Japanese Arabic Portuguese Russian Swahili Hindi".split()

# Never held out: the ambiguous names (both readings must be seen in training) and the names in raw.txt.
PINNED = {
    "John", "Smith", "Michael", "Jordan", "Washington", "Lincoln", "Georgia", "Chelsea", "Victoria",
    "Maria", "Garcia", "Thomas", "Müller", "Berlin", "New York", "Geneva", "Los Angeles", "Madrid",
    "Deutsche Bank", "United Nations", "Real Madrid", "Chicago Bulls", "Lakers", "World Cup", "German",
    "Tokyo", "Japan", "Kestrel Airlines",
}

DAY = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTH = "January February March April May June July August September October November December".split()
ORD = "first second third fourth fifth".split()

# Coarse Penn Treebank POS for every literal template word (a word/POS token in a template overrides).
LEXICON_BY_POS = {
    "DT": "the a",
    "IN": "in at on from for of against through between",
    "TO": "to",
    "CC": "and",
    "PRP": "it",
    "MD": "will would",
    "VBD": "scored won joined missed said met arrived died resumed told marched was criticised rose agreed "
           "reported resigned opened beat flew celebrated finished visited arrested fell hired rained "
           "returned",
    "VB": "visit act buy perform win",
    "VBZ": "works is speaks",
    "VBN": "born postponed elected",
    "VBP": "expect",
    "NN": "firm match striker coach president minister growth profit board plan film police "
          "meeting soccer percent",
    "NNS": "markets shares fans officials people talks analysts tourists points thousands",
    "JJ": "foreign chief",
    "NNP": "Mr. Dr.",
    "POS": "'s",
    ",": ",",
    ".": ".",
    ":": "-",
    "(": "(",
    ")": ")",
}
LEXICON = {word: pos for pos, words in LEXICON_BY_POS.items() for word in words.split()}
assert len(LEXICON) == sum(len(w.split()) for w in LEXICON_BY_POS.values()), "a word listed twice"

# Slots: {NAME} in a template. PER mixes full names, last names and first names; A+B joins two parts
# into one entity; "H:" marks an all-uppercase headline. The ambiguity slots force the ambiguous readings
# often enough to be learnt. Sentences are kept short (about 8 tokens) to keep the files small.
NER_TEMPLATES = [
    # sports
    "{PER} scored for {CLUB} on {DAY} .",
    "{CLUB} beat {CLUB} {SCORE} .",
    "{CLUB} {SCORE} {CLUB}",
    "{PER} won the {EVENT} in {YEAR} .",
    "{NAT} striker {PER} joined {CLUB} .",
    "{PER} missed the match against {CLUB} .",
    "fans in {CITY} celebrated the {EVENT} .",
    "coach {PER} said {CLUB} would win .",
    "{PER} finished {ORD} at the {EVENT} .",
    "H:soccer - {CLUB} beat {CLUB} .",
    "{FIRST+AMB_LAST} scored {NUM} points .",
    "{AMB_LAST} scored {NUM} points for the {CLUB} .",
    "{PER} ( {CLUB} ) {NUM}",
    "{COUNTRY} won the {EVENT} .",
    "{COUNTRY} {SCORE} {COUNTRY}",
    # travel and politics
    "{PER} flew from {CITY} to {CITY} .",
    "{PER} flew to {AMB_LOC} on {DAY} .",
    "{PER} arrived in {AMB_LOC} .",
    "the president of {COUNTRY} met {PER} .",
    "{PER} was born in {CITY} in {YEAR} .",
    "{INST} officials arrived on {MONTH} {DATE} .",
    "{INST} said {NUM} people died in {COUNTRY} .",
    "{NAT} minister {PER} will visit {COUNTRY} .",
    "talks between {COUNTRY} and {COUNTRY} resumed .",
    "{PER} told {INST} to act .",
    "thousands marched through {CITY} on {DAY} .",
    "Mr. {LAST} returned to {CITY} in {MONTH} .",
    "Dr. {PER} works at {INST} .",
    "{COUNTRY} 's foreign minister criticised the plan .",
    "{AMB_FIRST+LAST} was elected in {YEAR} .",
    "H:{COUNTRY} - police arrested {NUM} people .",
    # business
    "{COMPANY} shares rose {NUM} percent .",
    "{COMPANY} agreed to buy {COMPANY} .",
    "{COMPANY} chief {PER} resigned .",
    "{NAT} firm {COMPANY} opened in {CITY} .",
    "{COMPANY} analysts expect growth .",
    "{COMPANY} reported a profit for {YEAR} .",
    "{PER} met the {COMPANY} board in {CITY} .",
    "H:markets - {COMPANY} fell in {CITY} .",
    "{COMPANY} hired {PER} .",
    # culture and everything else
    "{PER} won the {PRIZE} .",
    "the {NAT} film won at the {FEST} .",
    "{PER} speaks {LANG} and {LANG} .",
    "{NAT} tourists visited {CITY} in {YEAR} .",
    "{PER} and {PER} will perform .",
    "it rained in {CITY} on {DAY} .",
    "the meeting was postponed to {MONTH} {DATE} .",
    "{PER} , {NUM} , was arrested in {CITY} .",
    "{CITY} is in {COUNTRY} .",
]

AMB_LAST = ["Jordan", "Washington", "Lincoln"]
AMB_LOC = ["Jordan", "Georgia", "Washington", "Lincoln", "Victoria"]
AMB_FIRST = ["Georgia", "Chelsea", "Victoria"]

# ---------------------------------------------------------------------------------------------------
# Sentence classification: label -> templates. Names, cities, days and numbers occur under several labels,
# so the label has to come from the other words.
CLS_TEMPLATES = {
    "sports": [
        "{CLUB} beat {CLUB} {SCORE}",
        "{PER} scored twice for {CLUB}",
        "the coach praised the {ADJ} defence",
        "{PER} was injured in training",
        "{CLUB} signed the striker {PER}",
        "fans in {CITY} celebrated the win",
        "the {EVENT} final was sold out",
        "{PER} broke the world record",
        "{CLUB} dropped to {ORD} place",
        "the referee sent off {PER}",
    ],
    "business": [
        "{COMPANY} shares rose {NUM} percent",
        "{COMPANY} reported {ADJ} profits",
        "investors in {CITY} sold bank stocks",
        "{COMPANY} agreed to buy {COMPANY}",
        "the central bank kept rates at {NUM} percent",
        "{PER} was named chief of {COMPANY}",
        "{COMPANY} will cut {NUM} jobs in {CITY}",
        "inflation in {COUNTRY} fell in {MONTH}",
        "oil prices climbed in {CITY}",
        "regulators approved the merger",
    ],
    "weather": [
        "heavy rain is expected in {CITY}",
        "temperatures in {CITY} will reach {NUM} degrees",
        "a storm warning was issued for {COUNTRY}",
        "snow closed roads around {CITY}",
        "forecasters expect a {ADJ} weekend in {CITY}",
        "strong winds hit {COUNTRY} on {DAY}",
        "the heatwave in {COUNTRY} will continue",
        "fog delayed flights in {CITY} on {DAY}",
        "light showers will clear by the afternoon",
        "floods forced {NUM} families from their homes",
    ],
}
CLS_ADJ = {"sports": ["solid", "brave", "stubborn"], "business": ["strong", "weak", "record"],
           "weather": ["dry", "warm", "mild"]}

RAW_TEXT = """\
John Smith flew from Berlin to New York on Monday. He met the Deutsche Bank board on Tuesday.
Dr. Maria Garcia, who works for the United Nations in Geneva, said the talks would resume in March.
Michael Jordan scored 32 points as the Chicago Bulls beat the Lakers in Los Angeles. Fans in Jordan watched the game.
The German striker Thomas Müller joined Real Madrid last season. Kestrel Airlines moved its office to Tokyo.
"""

README = """\
# Sample data (synthetic)

Small synthetic data sets for trying seqtag and for its tests. They are generated from templates and
invented word lists by `make_sample_data.py` (standard library only, fixed seed); no corpus text is
copied. Regenerate, byte for byte, with

    python sample_data/make_sample_data.py [OUTPUT_DIR]

- `ner/train.txt`, `ner/dev.txt`, `ner/test.txt`: named entities in CoNLL format, one `token POS tag`
  per line, IOB2 tags for PER, LOC, ORG and MISC, blank lines between sentences. About 30% of the
  names of each type never occur in train, and some names (Jordan, Washington, Georgia...) change type
  with the context.
- `vectors.txt`: word2vec text format (header `<count> <dim>`), 20-dimensional lowercase word vectors;
  words of the same class (person names, places, organisations, verbs...) are close to each other.
- `cls/train.tsv`, `cls/dev.tsv`, `cls/test.tsv`: sentence classification, header `label<TAB>text`,
  labels sports, business and weather, text tokenized with spaces.
- `raw.txt`: a few lines of untokenized English text mentioning names seen in train.
"""


# ---------------------------------------------------------------------------------------------------
def split_pool(rng: random.Random, names: list[str]) -> tuple[list[str], list[str]]:
    """(train names, all names): about HOLDOUT of the unpinned names are reserved for dev/test."""
    candidates = [n for n in names if n not in PINNED]
    rng.shuffle(candidates)
    held = set(candidates[: round(HOLDOUT * len(names))])
    return [n for n in names if n not in held], list(names)


def number(rng: random.Random) -> str:
    return str(rng.choice([rng.randint(2, 12), rng.randint(13, 99), rng.randint(100, 950)]))


def person(rng: random.Random, pools: dict[str, list[str]]) -> list[str]:
    r = rng.random()
    first, last = rng.choice(pools["FIRST"]), rng.choice(pools["LAST"])
    if r < 0.65:
        return [first, last]
    if r < 0.9:
        return [last]
    return [first]


def fill_ner(rng: random.Random, template: str, pools: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """One sentence as (token, POS, IOB2 tag) triples."""
    headline = template.startswith("H:")
    rows: list[tuple[str, str, str]] = []

    def entity(tokens: list[str], etype: str, pos: str = "NNP") -> None:
        for i, tok in enumerate(tokens):
            rows.append((tok, pos, ("B-" if i == 0 else "I-") + etype))

    for item in template.removeprefix("H:").split():
        if item.startswith("{"):
            slot = item[1:-1]
            if "+" in slot:
                entity([rng.choice(pools[part]) for part in slot.split("+")], "PER")
            elif slot == "PER":
                entity(person(rng, pools), "PER")
            elif slot in ("FIRST", "LAST", "AMB_FIRST", "AMB_LAST"):
                entity([rng.choice(pools[slot])], "PER")
            elif slot in ("CITY", "COUNTRY", "AMB_LOC"):
                entity(rng.choice(pools[slot]).split(), "LOC")
            elif slot in ("CLUB", "COMPANY", "INST"):
                entity(rng.choice(pools[slot]).split(), "ORG")
            elif slot == "NAT":
                entity([rng.choice(pools[slot])], "MISC", "JJ")
            elif slot in ("EVENT", "PRIZE", "FEST", "LANG"):
                entity(rng.choice(pools[slot]).split(), "MISC")
            elif slot == "NUM":
                rows.append((number(rng), "CD", "O"))
            elif slot == "YEAR":
                rows.append((str(rng.randint(1950, 2024)), "CD", "O"))
            elif slot == "DATE":
                rows.append((str(rng.randint(1, 28)), "CD", "O"))
            elif slot == "SCORE":
                rows.append((f"{rng.randint(0, 5)}-{rng.randint(0, 4)}", "CD", "O"))
            elif slot in ("DAY", "MONTH"):
                rows.append((rng.choice(DAY if slot == "DAY" else MONTH), "NNP", "O"))
            elif slot == "ORD":
                rows.append((rng.choice(ORD), "JJ", "O"))
            else:
                raise ValueError(f"unknown slot {slot}")
        elif "/" in item:
            word, pos = item.split("/")
            rows.append((word, pos, "O"))
        else:
            rows.append((item, LEXICON[item], "O"))

    # Casing variety: template words start lowercase; capitalise the first token, and now and then
    # lowercase or uppercase the whole sentence the way real noisy text does.
    r = rng.random()
    if headline or r < 0.03:
        return [(t.upper(), p, g) for t, p, g in rows]
    if r < 0.08:
        return [(t.lower(), p, g) for t, p, g in rows]
    first = rows[0]
    return [(first[0][:1].upper() + first[0][1:], first[1], first[2])] + rows[1:]


def check_iob2(rows: list[tuple[str, str, str]]) -> None:
    prev = "O"
    for _, _, tag in rows:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            raise AssertionError(f"invalid IOB2 sequence {prev} -> {tag}")
        prev = tag


def fill_cls(rng: random.Random, label: str, template: str, pools: dict[str, list[str]]) -> str:
    words = []
    for item in template.split():
        slot = item[1:-1] if item.startswith("{") else None
        if slot is None:
            words.append(item)
        elif slot == "PER":
            words.extend(person(rng, pools))
        elif slot in ("CLUB", "COMPANY", "CITY", "COUNTRY", "EVENT"):
            words.extend(rng.choice(pools[slot]).split())
        elif slot == "NUM":
            words.append(number(rng))
        elif slot == "SCORE":
            words.append(f"{rng.randint(0, 5)}-{rng.randint(0, 4)}")
        elif slot == "DAY":
            words.append(rng.choice(DAY))
        elif slot == "MONTH":
            words.append(rng.choice(MONTH))
        elif slot == "ORD":
            words.append(rng.choice(ORD))
        elif slot == "ADJ":
            words.append(rng.choice(CLS_ADJ[label]))
        else:
            raise ValueError(f"unknown slot {slot}")
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def word_classes(train_names: set[str], rng: random.Random) -> dict[str, tuple[str, ...]]:
    """Lowercase word -> its classes, for the vectors: all train words and about half of the held-out ones.

    A word in two classes (jordan: person and place) gets a vector between both centroids.
    """
    classes: dict[str, tuple[str, ...]] = {}

    def add(word: str, cls: str) -> None:
        w = word.lower()
        classes[w] = tuple(sorted(set(classes.get(w, ())) | {cls}))

    function_pos = {"DT", "IN", "TO", "CC", "PRP", "MD", "POS"}
    for word, pos in sorted(LEXICON.items()):
        add(word, "func" if pos in function_pos else pos[:2])  # VBD/VBZ... share one verb class
    kept = []
    for cls, names in (("first", FIRST), ("last", LAST), ("loc", CITY + COUNTRY),
                       ("org", CLUB + COMPANY + INST), ("misc", NAT + EVENT + PRIZE + FEST + LANG)):
        for name in names:
            if name not in train_names and rng.random() < 0.5:
                continue  # leave about half of the held-out names without a vector
            kept.append((cls, name))
    for cls, name in kept:  # whole one-word names first: these are the truly ambiguous ones (jordan)
        if " " not in name:
            add(name, cls)
    for cls, name in kept:  # parts of longer names keep an existing class ("berlin" in Hertha Berlin)
        for w in name.split():
            if w.lower() not in classes:
                add(w, cls)
    for w in DAY + MONTH:
        add(w, "time")
    for w in ORD:
        add(w, "JJ")
    return classes


def make_vectors(rng: random.Random, classes: dict[str, tuple[str, ...]]) -> list[str]:
    """word2vec text lines: class centroid (mean of centroids for ambiguous words) plus small noise."""
    names = sorted({c for cs in classes.values() for c in cs})
    centroids = {c: [rng.gauss(0.0, 0.5) for _ in range(DIM)] for c in names}
    lines = [f"{len(classes)} {DIM}"]
    for word in sorted(classes):
        cs = classes[word]
        center = [sum(centroids[c][i] for c in cs) / len(cs) for i in range(DIM)]
        lines.append(word + " " + " ".join(f"{x + rng.gauss(0.0, 0.15):.4f}" for x in center))
    return lines


def write(path: Path, text: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(data)  # bytes, so no platform newline translation
    return len(data)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    rng = random.Random(SEED)

    named = {"FIRST": FIRST, "LAST": LAST, "CITY": CITY, "COUNTRY": COUNTRY, "CLUB": CLUB,
             "COMPANY": COMPANY, "INST": INST, "NAT": NAT, "EVENT": EVENT, "PRIZE": PRIZE, "FEST": FEST,
             "LANG": LANG}
    lists = {k: split_pool(rng, v) for k, v in named.items()}
    for k, v in (("AMB_LAST", AMB_LAST), ("AMB_LOC", AMB_LOC), ("AMB_FIRST", AMB_FIRST)):
        lists[k] = (v, v)
    train_pools = {k: v[0] for k, v in lists.items()}  # slot -> names a split may use
    test_pools = {k: v[1] for k, v in lists.items()}

    total = 0
    counts = []
    for split, n in N_NER.items():
        pools = train_pools if split == "train" else test_pools
        lines = ["-DOCSTART- -X- O", ""]
        for _ in range(n):
            rows = fill_ner(rng, rng.choice(NER_TEMPLATES), pools)
            check_iob2(rows)
            lines.extend(" ".join(r) for r in rows)
            lines.append("")
        total += write(out / "ner" / f"{split}.txt", "\n".join(lines))
        counts.append(f"ner/{split} {n}")

    for split, n in N_CLS.items():
        pools = train_pools if split == "train" else test_pools
        lines = ["label\ttext"]
        labels = sorted(CLS_TEMPLATES)
        for i in range(n):
            label = labels[i % len(labels)]  # balanced; the shuffle below mixes the order
            lines.append(label + "\t" + fill_cls(rng, label, rng.choice(CLS_TEMPLATES[label]), pools))
        body = lines[1:]
        rng.shuffle(body)
        total += write(out / "cls" / f"{split}.tsv", "\n".join([lines[0]] + body) + "\n")
        counts.append(f"cls/{split} {n}")

    train_names = {name for names in train_pools.values() for name in names}
    classes = word_classes(train_names, rng)
    vectors = make_vectors(rng, classes)
    total += write(out / "vectors.txt", "\n".join(vectors) + "\n")
    total += write(out / "raw.txt", RAW_TEXT)
    total += write(out / "README.md", README)
    print(f"make_sample_data: {', '.join(counts)} sentences, vectors {len(vectors) - 1}x{DIM}, raw.txt; "
          f"{total / 1024:.0f} KB in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
