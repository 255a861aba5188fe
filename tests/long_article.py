"""A long feature article, written for the tests: its toll is in the lead, and thousands of words
of background follow, with the tolls of earlier disasters, reactions, history and economics.

The paragraphs are built from hand-written sentences with the years, places and figures varied,
so the article reads as one long report rather than one paragraph repeated.
"""

from __future__ import annotations

import itertools

LEAD = [
    "At least 14 people were killed and 37 injured when a landslide buried part of the mining "
    "town of Kestrava in the Orvan Highlands before dawn on Tuesday, regional officials said.",
    "Rescue teams were still searching for survivors under mud and rock that swept through "
    "the lower quarter of the town after three days of heavy rain.",
    "The regional governor, Ilse Marrod, said the death toll of 14 was confirmed by the "
    "district hospital and could rise as the search continued.",
]

# The rest of the report of the day itself, before the background begins.
REPORT = [
    "Television pictures showed rescuers digging with shovels and bare hands around a "
    "collapsed apartment block, while a mechanical excavator cleared the main road into the "
    "town.",
    "The district hospital said most of the injured had broken bones or crush injuries, and "
    "that six of them were in intensive care. Patients with lighter injuries were taken to "
    "clinics in neighbouring valleys.",
    "About 200 residents spent the night in a sports hall and a school, where volunteers "
    "handed out blankets and hot food. The army sent two helicopters and a field kitchen.",
    "Officials said the slope above the lower quarter had been monitored since cracks "
    "appeared in the road last month, but no evacuation had been ordered.",
]

PLACES = ["Kestrava", "Dunmoor", "Velaska", "Orvan Gap", "Sallowbrook", "Tiren", "Hask", "Morrow"]
YEARS = list(range(1961, 2024, 3))
TOLLS = [3, 6, 9, 11, 17, 22, 28, 35, 41, 52, 64]

BACKGROUND = [
    "In {year}, a landslide in {place} killed {toll} people and destroyed dozens of homes, "
    "an event many residents still remember.",
    "Records kept by the provincial archive show that {toll} miners died in a flood at the "
    "{place} pit in {year}, when water broke through an old gallery.",
    "The {place} road was closed for {toll} weeks in {year} after a rockfall, cutting the "
    "valley off from the coast.",
]
HISTORY = [
    "The town grew around a copper seam discovered in the hills above {place} in {year}, and "
    "for decades the mine employed most of the men in the valley.",
    "Generations of families moved between {place} and the coast, following work in the "
    "mines in winter and on the fishing boats in summer.",
    "Local historians describe the market at {place} as the oldest in the highlands, held "
    "every Thursday since at least {year}.",
    "A narrow-gauge railway once carried ore from {place} to the smelter at Orvan Gap; its "
    "last train ran in {year}, and the track bed is now a walking path.",
]
ECONOMY = [
    "The price of copper fell sharply in {year}, and the company that owned the {place} mine "
    "cut its workforce by a third over the following decade.",
    "Tourism has replaced some of the lost jobs: guest houses in {place} fill with walkers "
    "from May to September, according to the regional tourism board.",
    "Economists at the provincial university estimate that the valley's population has fallen "
    "by about a quarter since {year}, as young people leave for the cities.",
]
VOICES = [
    '"We have always lived with the mountain," said a shopkeeper in {place}, who asked not to '
    'be named. "But the rain this autumn was something none of us had seen."',
    "A geologist who surveyed the slopes above {place} in {year} said the terraces cut for "
    "the old mine workings had weakened the hillside over many decades.",
    "A teacher from {place} said her school would open its hall to families who had lost "
    'their homes. "People here look after each other," she said.',
]
POLICY = [
    "A report commissioned by the regional assembly in {year} recommended moving the lower "
    "quarter of {place} to safer ground, but the plan was never funded.",
    "Opposition members of the assembly have called for an inquiry into why warnings issued "
    "after the storms of {year} were not acted upon in {place}.",
    "The national weather service said rainfall over the highlands this month was more than "
    "twice the average recorded since {year}.",
]


def long_article(words: int = 15_000) -> str:
    """The article: the lead, then background paragraphs until it has ``words`` words."""
    paragraphs = [" ".join(LEAD), *REPORT]
    count = sum(len(p.split()) for p in paragraphs)
    families = [BACKGROUND, HISTORY, ECONOMY, VOICES, POLICY, HISTORY, ECONOMY]
    cycle = itertools.count()
    while count < words:
        i = next(cycle)
        sentences = []
        for j, family in enumerate(families[i % len(families) :][:3] or families[:3]):
            template = family[(i + j) % len(family)]
            sentences.append(
                template.format(
                    year=YEARS[(i * 7 + j) % len(YEARS)],
                    place=PLACES[(i * 3 + j) % len(PLACES)],
                    toll=TOLLS[(i * 5 + j) % len(TOLLS)],
                )
            )
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        count += len(paragraph.split())
    return "\n\n".join(paragraphs)
