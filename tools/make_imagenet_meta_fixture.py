"""Small stand-ins for the ILSVRC-2012 devkit's `data/meta.mat` (tests/imagenet.rs).

The real file (in ILSVRC2012_devkit_t12.tar.gz) holds one variable, `synsets`, a 1860×1
MATLAB struct array with the fields ILSVRC2012_ID, WNID, words, gloss, num_children, children,
wordnet_height and num_train_images: the 1000 classes (leaves, IDs 1..1000, which are NOT in
sorted-WNID order) and 860 inner WordNet nodes (IDs above 1000, `num_children > 0`).
torchvision's `torchvision/datasets/imagenet.py` (`parse_meta_mat`) reads it with
`scipy.io.loadmat(..., squeeze_me=True)["synsets"]`.

The fixtures have the same fields and shape: five leaves, whose IDs do not follow the sorted
order of their WNIDs, and one inner node. They are written twice with `scipy.io.savemat`:
- `imagenet_meta.mat`: uncompressed, the IDs stored as uint16 (MATLAB itself stores an
  integer-valued double in the smallest integer type that holds it);
- `imagenet_meta_compressed.mat`: `do_compression=True` (each variable one zlib `miCOMPRESSED`
  element, as MATLAB's default -v7 format), every number a double.
`imagenet_meta.json` is what scipy reads back from each file (ID, WNID, words, num_children),
in file order, the golden the Rust reader must match.

    .venv/bin/python tools/make_imagenet_meta_fixture.py
"""
import json
import pathlib

import numpy as np
import scipy.io

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates" / "data" / "tests" / "golden"

FIELDS = [
    "ILSVRC2012_ID",
    "WNID",
    "words",
    "gloss",
    "num_children",
    "children",
    "wordnet_height",
    "num_train_images",
]

# (ILSVRC2012_ID, WNID, words, gloss, children IDs, wordnet_height, num_train_images)
SYNSETS = [
    (1, "n02119789", "kit fox, Vulpes macrotis", "small grey fox of southwestern United States", [], 0, 1300),
    (2, "n02100735", "English setter", "an English breed having a plumed tail", [], 0, 1300),
    (3, "n02110185", "Siberian husky", "breed of sled dog developed in northeastern Siberia", [], 0, 1300),
    (4, "n02096294", "Australian terrier", "small wiry-coated terrier bred in Australia", [], 0, 1300),
    (5, "n02102040", "English springer, English springer spaniel", "a breed of springer spaniel", [], 0, 1300),
    (1001, "n02084071", "dog, domestic dog, Canis familiaris", "a member of the genus Canis", [2, 3, 4, 5], 2, 0),
]


def struct_array(id_dtype):
    dtype = [(name, object) for name in FIELDS]
    synsets = np.zeros((len(SYNSETS), 1), dtype=dtype)
    for i, (sid, wnid, words, gloss, children, height, images) in enumerate(SYNSETS):
        synsets[i, 0] = (
            np.array([[sid]], dtype=id_dtype),
            np.array(wnid),
            np.array(words),
            np.array(gloss),
            np.array([[float(len(children))]]),
            np.array([children], dtype=np.float64).reshape(1, len(children)),
            np.array([[float(height)]]),
            np.array([[float(images)]]),
        )
    return synsets


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {
        "imagenet_meta.mat": (np.uint16, False),
        "imagenet_meta_compressed.mat": (np.float64, True),
    }
    read_back = None
    for name, (id_dtype, compress) in files.items():
        path = OUT / name
        scipy.io.savemat(path, {"synsets": struct_array(id_dtype)}, do_compression=compress)
        meta = scipy.io.loadmat(path, squeeze_me=True)["synsets"]
        rows = [
            {
                "id": int(s["ILSVRC2012_ID"]),
                "wnid": str(s["WNID"]),
                "words": str(s["words"]),
                "num_children": int(s["num_children"]),
            }
            for s in meta
        ]
        assert read_back is None or rows == read_back, name
        read_back = rows
    (OUT / "imagenet_meta.json").write_text(json.dumps(read_back, indent=1) + "\n")


if __name__ == "__main__":
    main()
