"""The shipped data packs (the format of ``../shared/data``), pinned: every file's size and sha256, and how
each array is decoded, with the sha256 of its decoded bytes (like torchvision's md5 lists).

Only these files, with these hashes, are imported (:func:`lbgap.core.data.import_pack`); the pack's own
``MANIFEST.json`` and ``unpack.py`` are neither trusted nor run. Encodings (decoded by ``data.decode_array``):

* ``xz-raw``: the files concatenated after xz decompression, ``np.frombuffer(dtype).reshape(shape)``;
* ``webp-mosaic``: each file a lossless WebP sprite sheet of ``count`` tiles of shape ``tile``, row-major,
  ``cols`` tiles per row; files concatenated in order.
"""
from __future__ import annotations

# pack -> {path relative to the pack folder: (bytes, sha256)}; every file of the pack, used or not
PACK_FILES: dict[str, dict[str, tuple[int, str]]] = {
    "mnist": {
        "mnist/x_train.u8.xz": (7805904, "f27167f78998baf920cff4be0b581bab71267871663c067a305ff8b6957c361f"),
        "mnist/y_train.u8.xz": (25280, "cc9d80ded34978a9bd49578e1373f6cf76cd595b24a95c74991b312782ea1a1e"),
        "mnist/x_test.u8.xz": (1351008, "f55864981dca154cf89d80bc01fbe4f7adb0249b4c26a6c682c780cff7f1992a"),
        "mnist/y_test.u8.xz": (4008, "70e7b60351c321643f9d0ff5b9cb998ca80d5c47cbfddeba43967c902f0cb984"),
    },
    "cifar10": {
        "cifar10/x_train.00.webp": (17040942, "0c540445580e2b4751a4fb5e79175f3eced765d47d186c46cf6aaa7a076c47d9"),
        "cifar10/x_train.01.webp": (17085808, "ecd97fbddf53a95c7a487a46490001fbae20af0d14e0978cf2a8c74001ef5eb5"),
        "cifar10/x_train.02.webp": (17091114, "577efcbfc9a4ea051e4f915841300a1c1943948d918318615797528bd1931ae3"),
        "cifar10/x_train.03.webp": (17061958, "a362cd3478100abaef253b26a1c6c0979ac43379b30b03c5c774900ed8f3025c"),
        "cifar10/x_train.04.webp": (17048054, "dca43ff04bd60b6081d36b131a960c0ab9d7a4c2f6be4dc305f4248586327eb4"),
        "cifar10/x_test.00.webp": (1668734, "5ab36e8e3676eefd105ec74c5e6d28425b724c66fe5a389e90524da15811b027"),
        "cifar10/y_train.u8.xz": (21896, "f0ab9963de0ac95b9ce8f863cbe3e75f23209229b6b979640433b3faffc2cfd1"),
        "cifar10/y_test.u8.xz": (540, "7f6a174da97bec7c94d6db27f99d0e010ccecb6acf5b8af8ba5a9fae957a14d0"),
        "cifar10/y_test_all.u8.xz": (4460, "582e12eac432d56e9928f1a17d108cdc363bde5deb1e926241d922bf80b8e30f"),
    },
    "cifar100": {
        "cifar100/x_train.00.webp": (810790, "f8ee3f6045b5bbe4d031cceb1e6521a81e00344978cd7fcb4d869f9068fa533e"),
        "cifar100/x_test.00.webp": (1538884, "a71387875855903d19a2a2486940cd6ff85c14817cbafb74de97e677cd7aae5f"),
        "cifar100/y_train.u8.xz": (512, "9e88721003e549ec49e84d6b2056e994a1913a8b6e0e5efcaaf97c8d7db2415d"),
        "cifar100/y_train_coarse.u8.xz": (376, "528a632fb4eaede0a33216a2b70b36639507b368ed88ed43233da9a5b1d246cd"),
        "cifar100/y_test.u8.xz": (888, "492f2727caedb98d043556686959ed92ab1c5f634b906e9ad46ad34016db1173"),
        "cifar100/y_test_coarse.u8.xz": (624, "b6053ebd42a281c5e9e3d0d2dbf9e3f399fbbea1c29d584a57b5b95deb1a5d2f"),
        "cifar100/y_train_all.u8.xz": (42480, "bcae4431774736b7df78c212a217ebde37552b4b23a6eb4907415e9f0c584497"),
        "cifar100/y_train_coarse_all.u8.xz": (28068, "ca02cf937117bc4327613d49d0e37046656ff7762a7066ee78525bd011af5891"),
        "cifar100/y_test_all.u8.xz": (8612, "7cd570717ee786c9cd6575d928c2a760689138a94fef298cd77d5144689a3461"),
        "cifar100/y_test_coarse_all.u8.xz": (5708, "4750e17aaee1946f5d3176e65c57ace1eae3f4954b33bcf83303aa548777ebb5"),
        "cifar100/official_train_pickle_header.bin.xz": (351376, "3e3f692dbf65e2beaffadabf07ca9c4629d0c2e6fbe6d35662371b16da81e2cc"),
        "cifar100/official_test_pickle_header.bin.xz": (74032, "5e2b1b82762cb1b7a3c034aab3d4e947f13b3714d8153f6b5223d775da0d1f85"),
    },
    "so762": {
        "so762/so762_f2.npz.xz": (48722812, "9d644fb8b7213caa93bcb256920f894b5385ac8d83ba64693a78c173012fed95"),
    },
}

# pack -> the four arrays lbgap uses: encoding, files (in order), shape, dtype and sha256 of the decoded bytes
PACK_ARRAYS: dict[str, dict[str, dict]] = {
    "mnist": {
        "x_train": dict(encoding="xz-raw", files=['mnist/x_train.u8.xz'],
                    shape=(60000, 28, 28), dtype="uint8",
                    sha256="741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"),
        "y_train": dict(encoding="xz-raw", files=['mnist/y_train.u8.xz'],
                    shape=(60000,), dtype="uint8",
                    sha256="1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
        "x_test": dict(encoding="xz-raw", files=['mnist/x_test.u8.xz'],
                    shape=(10000, 28, 28), dtype="uint8",
                    sha256="6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"),
        "y_test": dict(encoding="xz-raw", files=['mnist/y_test.u8.xz'],
                    shape=(10000,), dtype="uint8",
                    sha256="ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
    },
    "cifar10": {
        "x_train": dict(encoding="webp-mosaic", files=[
                             ('cifar10/x_train.00.webp', 100, 10000),
                             ('cifar10/x_train.01.webp', 100, 10000),
                             ('cifar10/x_train.02.webp', 100, 10000),
                             ('cifar10/x_train.03.webp', 100, 10000),
                             ('cifar10/x_train.04.webp', 100, 10000),
                         ], tile=(32, 32, 3),
                    shape=(50000, 32, 32, 3), dtype="uint8",
                    sha256="47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a"),
        "y_train": dict(encoding="xz-raw", files=['cifar10/y_train.u8.xz'],
                    shape=(50000,), dtype="uint8",
                    sha256="2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253"),
        "x_test": dict(encoding="webp-mosaic", files=[
                             ('cifar10/x_test.00.webp', 100, 1000),
                         ], tile=(32, 32, 3),
                    shape=(1000, 32, 32, 3), dtype="uint8",
                    sha256="da362006b99671213d1a5d856cab2bedf64d40bad4501630ee60f4ceb2d3ec7f"),
        "y_test": dict(encoding="xz-raw", files=['cifar10/y_test.u8.xz'],
                    shape=(1000,), dtype="uint8",
                    sha256="636a087e604331a0b9dafc94b6e9ade0c9cec72c4400d12473ccdb3e264474c1"),
    },
    "cifar100": {
        "x_train": dict(encoding="webp-mosaic", files=[
                             ('cifar100/x_train.00.webp', 100, 486),
                         ], tile=(32, 32, 3),
                    shape=(486, 32, 32, 3), dtype="uint8",
                    sha256="d0318d52a0da029f5d769860232b042e8e58a65e2336b277d3b5ea3c0a6229d8"),
        "y_train": dict(encoding="xz-raw", files=['cifar100/y_train.u8.xz'],
                    shape=(486,), dtype="uint8",
                    sha256="d511226ba1ed6ab4b83e3383947f43234e084ba6c7354b28c1cc2c83706764d1"),
        "x_test": dict(encoding="webp-mosaic", files=[
                             ('cifar100/x_test.00.webp', 100, 916),
                         ], tile=(32, 32, 3),
                    shape=(916, 32, 32, 3), dtype="uint8",
                    sha256="1ef09273f5e23b0eafdfbe359f051ece75f575379d5afbc2c307e768c4f73b08"),
        "y_test": dict(encoding="xz-raw", files=['cifar100/y_test.u8.xz'],
                    shape=(916,), dtype="uint8",
                    sha256="49607eda88e4ef831024ad052e60a07b0789735edd004880b5933cc6d1528807"),
    },
}

# pack -> what the pack holds, as its MANIFEST.json says (shown in the cache's meta and `lbgap data list`)
PACK_STATUS: dict[str, str] = {
    "mnist": 'complete; byte-exact with the official idx files (all four uncompressed md5s verified)',
    "cifar10": ('train complete (50000); test INCOMPLETE: only the first 1000 of 10000 test images (x_test, y_test); '
                'all 10000 test labels are in y_test_all'),
    "cifar100": ("INCOMPLETE: pixels only for the first 486 train and 916 test images; all labels"
                 " (fine+coarse, train+test), class names and the official pickles' headers are complete"),
}
