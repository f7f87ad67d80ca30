"""Fixed word lists the text generator draws from (plain English, no punctuation)."""

from __future__ import annotations

COMMON = """
apple river mountain garden window orange silver yellow market basket forest candle
pillow rocket planet dragon castle bridge harbor island jacket ladder marble needle
office pencil rabbit saddle summer tunnel velvet wallet winter zebra anchor banana
butter cactus cotton desert engine falcon finger guitar hammer insect kettle lemon
magnet meadow mirror monkey napkin ocean parrot pepper puzzle quiet ribbon salmon
shadow spider stream sunset teacher thunder tomato travel violin walnut whistle
yogurt breeze button cherry copper dinner feather flower glacier helmet honey
lantern lizard meteor muffin nectar noodle oyster pebble pirate quartz raven saucer
scarlet spiral stable sugar tiger timber turtle valley vessel wizard almond bottle
camera circus crystal dolphin eagle fabric fossil gravel hollow jungle kitten lobster
mango nickel orbit paddle pigeon poetry radar riddle sapphire signal sketch sparrow
tablet thistle trumpet umbrella vacuum wagon willow anthem beacon cobalt
""".split()

# long words with repeated letters, for letter counting
LONG = """
strawberry mississippi bookkeeper committee assessment parallelogram possession
occurrence accommodation embarrassment millennium necessary tennessee abracadabra
successfully independence sleeplessness unnecessarily bureaucracy hippopotamus
onomatopoeia referendum intelligence entrepreneurship characteristically
""".split()

FIRST_NAMES = """
Alice Bruno Carla Dmitri Elena Farid Grace Hiro Ines Jonas Kavya Liam Maya Nadia
Omar Priya Quentin Rosa Samir Tara Umar Vera Wei Ximena Yusuf Zoe
""".split()

DEPARTMENTS = ["Sales", "Engineering", "Support", "Finance", "Marketing"]
REGIONS = ["North", "South", "East", "West"]
PRODUCTS = ["Widget", "Gadget", "Gizmo", "Doohickey", "Sprocket"]
