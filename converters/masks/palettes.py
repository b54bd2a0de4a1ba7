"""The colour tables of the built-in colour maps (data only; :mod:`.colormaps` builds the maps).

Each table lists ``(R, G, B, name)`` rows; where each comes from, and which of its values are
void, is said beside it. These are the public colour conventions of the datasets, written
out as data:

* CamVid: the 32 classes of the dataset's ``label_colors.txt`` (value = row).
* Cityscapes: the 34 label ids 0..33 of cityscapesScripts ``helpers/labels.py``
  (MIT licence; value = id; ``license plate``, id -1, is not drawn in label images). Ids 1-4
  share id 0's black and 18 (polegroup) shares 17's grey: such a colour reads as the
  lowest id.
* ADE20K: the 150 SceneParsing classes (short names) with the palette of CSAIL's
  semantic-segmentation-pytorch ``data/color150.mat`` (BSD-3-Clause; MIT in earlier
  releases), as written out in mmsegmentation's ``ADE20KDataset`` (Apache-2.0), the form
  most tools draw ADE20K predictions with. Value = row + 1, as in ADE20K's own
  annotation PNGs, where 0 is "other" (unlabeled); road and skyscraper share one grey,
  which reads as road.
"""

from __future__ import annotations

from typing import Final

Row = tuple[int, int, int, str]

# the CamVid 32-class colour table; value = position
CAMVID: Final[tuple[Row, ...]] = (
    (64, 128, 64, "Animal"), (192, 0, 128, "Archway"), (0, 128, 192, "Bicyclist"),
    (0, 128, 64, "Bridge"), (128, 0, 0, "Building"), (64, 0, 128, "Car"),
    (64, 0, 192, "CartLuggagePram"), (192, 128, 64, "Child"), (192, 192, 128, "Column_Pole"),
    (64, 64, 128, "Fence"), (128, 0, 192, "LaneMkgsDriv"), (192, 0, 64, "LaneMkgsNonDriv"),
    (128, 128, 64, "Misc_Text"), (192, 0, 192, "MotorcycleScooter"),
    (128, 64, 64, "OtherMoving"), (64, 192, 128, "ParkingBlock"), (64, 64, 0, "Pedestrian"),
    (128, 64, 128, "Road"), (128, 128, 192, "RoadShoulder"), (0, 0, 192, "Sidewalk"),
    (192, 128, 128, "SignSymbol"), (128, 128, 128, "Sky"), (64, 128, 192, "SUVPickupTruck"),
    (0, 0, 64, "TrafficCone"), (0, 64, 64, "TrafficLight"), (192, 64, 128, "Train"),
    (128, 128, 0, "Tree"), (192, 128, 192, "Truck_Bus"), (64, 0, 64, "Tunnel"),
    (192, 192, 0, "VegetationMisc"), (0, 0, 0, "Void"), (64, 192, 0, "Wall"),
)  # fmt: skip
CAMVID_VOID: Final = (30,)  # Void, (0, 0, 0)

# Cityscapes label ids 0..33; value = id
CITYSCAPES: Final[tuple[Row, ...]] = (
    (0, 0, 0, "unlabeled"), (0, 0, 0, "ego vehicle"), (0, 0, 0, "rectification border"),
    (0, 0, 0, "out of roi"), (0, 0, 0, "static"), (111, 74, 0, "dynamic"),
    (81, 0, 81, "ground"), (128, 64, 128, "road"), (244, 35, 232, "sidewalk"),
    (250, 170, 160, "parking"), (230, 150, 140, "rail track"), (70, 70, 70, "building"),
    (102, 102, 156, "wall"), (190, 153, 153, "fence"), (180, 165, 180, "guard rail"),
    (150, 100, 100, "bridge"), (150, 120, 90, "tunnel"), (153, 153, 153, "pole"),
    (153, 153, 153, "polegroup"), (250, 170, 30, "traffic light"),
    (220, 220, 0, "traffic sign"), (107, 142, 35, "vegetation"), (152, 251, 152, "terrain"),
    (70, 130, 180, "sky"), (220, 20, 60, "person"), (255, 0, 0, "rider"), (0, 0, 142, "car"),
    (0, 0, 70, "truck"), (0, 60, 100, "bus"), (0, 0, 90, "caravan"), (0, 0, 110, "trailer"),
    (0, 80, 100, "train"), (0, 0, 230, "motorcycle"), (119, 11, 32, "bicycle"),
)  # fmt: skip
# the ids of Cityscapes' "void" category (unlabeled .. ground)
CITYSCAPES_VOID: Final = (0, 1, 2, 3, 4, 5, 6)

# ADE20K SceneParsing, 150 classes; value = position + 1 (0 = "other", unlabeled, black)
ADE20K: Final[tuple[Row, ...]] = (
    (120, 120, 120, "wall"), (180, 120, 120, "building"), (6, 230, 230, "sky"),
    (80, 50, 50, "floor"), (4, 200, 3, "tree"), (120, 120, 80, "ceiling"),
    (140, 140, 140, "road"), (204, 5, 255, "bed"), (230, 230, 230, "windowpane"),
    (4, 250, 7, "grass"), (224, 5, 255, "cabinet"), (235, 255, 7, "sidewalk"),
    (150, 5, 61, "person"), (120, 120, 70, "earth"), (8, 255, 51, "door"),
    (255, 6, 82, "table"), (143, 255, 140, "mountain"), (204, 255, 4, "plant"),
    (255, 51, 7, "curtain"), (204, 70, 3, "chair"), (0, 102, 200, "car"),
    (61, 230, 250, "water"), (255, 6, 51, "painting"), (11, 102, 255, "sofa"),
    (255, 7, 71, "shelf"), (255, 9, 224, "house"), (9, 7, 230, "sea"),
    (220, 220, 220, "mirror"), (255, 9, 92, "rug"), (112, 9, 255, "field"),
    (8, 255, 214, "armchair"), (7, 255, 224, "seat"), (255, 184, 6, "fence"),
    (10, 255, 71, "desk"), (255, 41, 10, "rock"), (7, 255, 255, "wardrobe"),
    (224, 255, 8, "lamp"), (102, 8, 255, "bathtub"), (255, 61, 6, "railing"),
    (255, 194, 7, "cushion"), (255, 122, 8, "base"), (0, 255, 20, "box"),
    (255, 8, 41, "column"), (255, 5, 153, "signboard"), (6, 51, 255, "chest of drawers"),
    (235, 12, 255, "counter"), (160, 150, 20, "sand"), (0, 163, 255, "sink"),
    (140, 140, 140, "skyscraper"), (250, 10, 15, "fireplace"), (20, 255, 0, "refrigerator"),
    (31, 255, 0, "grandstand"), (255, 31, 0, "path"), (255, 224, 0, "stairs"),
    (153, 255, 0, "runway"), (0, 0, 255, "case"), (255, 71, 0, "pool table"),
    (0, 235, 255, "pillow"), (0, 173, 255, "screen door"), (31, 0, 255, "stairway"),
    (11, 200, 200, "river"), (255, 82, 0, "bridge"), (0, 255, 245, "bookcase"),
    (0, 61, 255, "blind"), (0, 255, 112, "coffee table"), (0, 255, 133, "toilet"),
    (255, 0, 0, "flower"), (255, 163, 0, "book"), (255, 102, 0, "hill"), (194, 255, 0, "bench"),
    (0, 143, 255, "countertop"), (51, 255, 0, "stove"), (0, 82, 255, "palm"),
    (0, 255, 41, "kitchen island"), (0, 255, 173, "computer"), (10, 0, 255, "swivel chair"),
    (173, 255, 0, "boat"), (0, 255, 153, "bar"), (255, 92, 0, "arcade machine"),
    (255, 0, 255, "hovel"), (255, 0, 245, "bus"), (255, 0, 102, "towel"),
    (255, 173, 0, "light"), (255, 0, 20, "truck"), (255, 184, 184, "tower"),
    (0, 31, 255, "chandelier"), (0, 255, 61, "awning"), (0, 71, 255, "streetlight"),
    (255, 0, 204, "booth"), (0, 255, 194, "television receiver"), (0, 255, 82, "airplane"),
    (0, 10, 255, "dirt track"), (0, 112, 255, "apparel"), (51, 0, 255, "pole"),
    (0, 194, 255, "land"), (0, 122, 255, "bannister"), (0, 255, 163, "escalator"),
    (255, 153, 0, "ottoman"), (0, 255, 10, "bottle"), (255, 112, 0, "buffet"),
    (143, 255, 0, "poster"), (82, 0, 255, "stage"), (163, 255, 0, "van"), (255, 235, 0, "ship"),
    (8, 184, 170, "fountain"), (133, 0, 255, "conveyer belt"), (0, 255, 92, "canopy"),
    (184, 0, 255, "washer"), (255, 0, 31, "plaything"), (0, 184, 255, "swimming pool"),
    (0, 214, 255, "stool"), (255, 0, 112, "barrel"), (92, 255, 0, "basket"),
    (0, 224, 255, "waterfall"), (112, 224, 255, "tent"), (70, 184, 160, "bag"),
    (163, 0, 255, "minibike"), (153, 0, 255, "cradle"), (71, 255, 0, "oven"),
    (255, 0, 163, "ball"), (255, 204, 0, "food"), (255, 0, 143, "step"), (0, 255, 235, "tank"),
    (133, 255, 0, "trade name"), (255, 0, 235, "microwave"), (245, 0, 255, "pot"),
    (255, 0, 122, "animal"), (255, 245, 0, "bicycle"), (10, 190, 212, "lake"),
    (214, 255, 0, "dishwasher"), (0, 204, 255, "screen"), (20, 0, 255, "blanket"),
    (255, 255, 0, "sculpture"), (0, 153, 255, "hood"), (0, 41, 255, "sconce"),
    (0, 255, 204, "vase"), (41, 0, 255, "traffic light"), (41, 255, 0, "tray"),
    (173, 0, 255, "ashcan"), (0, 245, 255, "fan"), (71, 0, 255, "pier"),
    (122, 0, 255, "crt screen"), (0, 255, 184, "plate"), (0, 92, 255, "monitor"),
    (184, 255, 0, "bulletin board"), (0, 133, 255, "shower"), (255, 214, 0, "radiator"),
    (25, 194, 194, "glass"), (102, 255, 0, "clock"), (92, 0, 255, "flag"),
)  # fmt: skip
ADE20K_OTHER: Final = "other"
