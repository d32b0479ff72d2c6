"""Assignment 07, Part 1 (``ex07-make-dataset``): a folder of images for a (28, 28, 1) model. Lesson 07.

The task: ``make_dataset(folder, batch_size)`` returns a ``tf.data.Dataset`` of
``(images, labels)`` made with ``keras.utils.image_dataset_from_directory``:
batched exactly once, grayscale, 28 x 28, every picture once with its class
index, pixel values 0-255 as the loader gives them.

A case is a FOLDER DESCRIPTION ``[per_class, size, seed, mode, batch_size]``:
the kernel writes that folder (:func:`convclinic.pipelines.write_image_folder`),
calls the learner's function and records the element spec and the batches
(pixels only when they are small); the judge writes the same folder itself and
loads it with the right arguments (:func:`truth_images`).
"""

from __future__ import annotations

import tempfile

import numpy as np

from convclinic.judging.casework import as_array, call, error_text, hint_of, judge_each, records
from convclinic.judging.core import Part

SIDE = 28
MAX_IMAGES = 64
MAX_PIXELS = SIDE * SIDE * MAX_IMAGES  # larger batches are recorded by shape only
MATCH_TOLERANCE = 20.0  # mean absolute difference (0-255 scale) for "the same picture"


def ints(case, count, name, limits):
    if (not isinstance(case, list | tuple) or len(case) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in case[:count])):
        raise ValueError(f"bad {name} case {case!r}")
    if not all(low <= value <= high for value, (low, high) in zip(case, limits, strict=True)):
        raise ValueError(f"bad {name} case {case!r}")
    return tuple(case)


# --- Part 1: the folder pipeline -----------------------------------------------------------


def folder_case(case):
    """``[per_class, size, seed, mode, batch_size]``; ValueError when malformed."""
    if not isinstance(case, list | tuple) or len(case) != 5 or case[3] not in ("L", "RGB"):
        raise ValueError(f"bad folder case {case!r}")
    per_class, size, seed, batch = ints([case[0], case[1], case[2], case[4]], 4, "folder",
                                         ((1, 16), (8, 64), (0, 2**31 - 1), (1, 32)))
    return per_class, size, seed, case[3], batch


def write_case_folder(case, root):
    from convclinic.pipelines import write_image_folder

    per_class, size, seed, mode, _ = folder_case(case)
    return write_image_folder(root, per_class=per_class, size=size, seed=seed, mode=mode)


def record_dataset(dataset):
    """Kernel side: the images' element spec and every batch (pixels only when small)."""
    spec = getattr(dataset, "element_spec", None)
    if not isinstance(spec, tuple) or len(spec) != 2 or not hasattr(spec[0], "shape"):
        raise TypeError("the dataset's elements are not (images, labels) pairs")
    dims = spec[0].shape.as_list() if spec[0].shape.rank is not None else None
    batches, seen = [], 0
    for images, labels in dataset:
        images, labels = as_array(images), as_array(labels)
        small = images.size <= MAX_PIXELS
        batches.append({"shape": list(images.shape), "labels": labels,
                        "images": images.astype("float32") if small else None})
        seen += images.shape[0] if images.ndim else 1
        if seen > MAX_IMAGES or len(batches) > MAX_IMAGES:
            break
    return {"spec": dims, "batches": batches}


def collect_dataset(answers, cases):
    """Write each case's folder, call ``make_dataset`` on it, record what comes out."""
    make_dataset = answers["make_dataset"]
    data = []
    for case in cases:
        with tempfile.TemporaryDirectory() as root:
            folder = write_case_folder(case, f"{root}/images")
            data.append(call(make_dataset, str(folder), folder_case(case)[4], convert=record_dataset))
    return data


def truth_images(case):
    """Judge side: the folder loaded right (grayscale, 28 x 28, in file order): (images, labels)."""
    from convclinic.judging.kernel import quiet
    from convclinic.runtime import import_keras

    keras = import_keras()
    with tempfile.TemporaryDirectory() as root, quiet():
        folder = write_case_folder(case, f"{root}/images")
        dataset = keras.utils.image_dataset_from_directory(
            str(folder), color_mode="grayscale", image_size=(SIDE, SIDE), batch_size=MAX_IMAGES,
            shuffle=False, verbose=False)
        images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


DATASET_REQUIREMENTS = (
    "one element is a batch (batch, 28, 28, 1): the dataset is batched exactly once, with batch_size",
    "the images are grayscale: one channel (color_mode='grayscale'; the loader's default is RGB)",
    "the images are 28 x 28 (image_size=(28, 28); the loader's default is 256 by 256)",
    "every picture of the folder comes once per epoch with its class index, pixels 0-255 as the "
    "loader gives them (the model rescales)",
)


def describe_folder(case):
    per_class, size, _, mode, batch = folder_case(case)
    kind = "grayscale" if mode == "L" else "colour"
    return f"for {2 * per_class} {kind} PNG files of {size} x {size}, batch_size={batch}"


def _check_spec(verdicts, case, record):
    """R1-R3 from the element spec and the batch shapes; True when the layout is right."""
    where = describe_folder(case)
    spec, batches = record.get("spec"), record.get("batches")
    if not isinstance(spec, list) or records(batches, len(batches or [])) is None:
        verdicts.unreadable()
        return False
    if len(spec) == 3:
        why = "each element is ONE image: batch the dataset (the loader batches when batch_size is given)"
        verdicts.fail(0, f"{where}: one element is {tuple(spec)}: {why}", why)
        return False
    if len(spec) == 5:
        why = ("each element has two batch axes: the loader already batches, so do not call "
               ".batch() again (batched twice)")
        verdicts.fail(0, f"{where}: one element is {tuple(spec)}: {why}", why)
        return False
    if len(spec) != 4:
        why = "one element must be (batch, 28, 28, 1)"
        verdicts.fail(0, f"{where}: one element is {tuple(spec)}: {why}", why)
        return False
    ok = True
    if spec[3] != 1:
        why = "image_dataset_from_directory loads 3 channels (RGB) by default: color_mode='grayscale'"
        verdicts.fail(1, f"{where}: the images have {spec[3]} channels: {why}", why)
        ok = False
    if tuple(spec[1:3]) != (SIDE, SIDE):
        why = "image_dataset_from_directory resizes every image to 256 by 256 pixels by default: image_size=(28, 28)"
        verdicts.fail(2, f"{where}: the images are {spec[1]} x {spec[2]}: {why}", why)
        ok = False
    sizes = [int(b["shape"][0]) for b in batches if isinstance(b.get("shape"), list) and b["shape"]]
    total = sum(sizes)
    if ok and (not sizes or max(sizes) > folder_case(case)[4] or sizes[0] != min(folder_case(case)[4], total)):
        why = "use the batch_size argument for the batches"
        verdicts.fail(0, f"{where}: the batches hold {sizes} images: {why}", why)
        ok = False
    return ok


def _check_content(verdicts, case, record):
    """R4: the same pictures (nearest match), each once, with the right label, 0-255."""
    where = describe_folder(case)
    expected, expected_labels = truth_images(case)
    batches = record["batches"]
    if any(b.get("images") is None for b in batches):
        verdicts.unreadable()
        return
    got = np.concatenate([np.asarray(b["images"], "float64").reshape(-1, SIDE, SIDE, 1) for b in batches])
    labels = np.concatenate([np.asarray(b["labels"]).reshape(len(b["images"]), -1) for b in batches])
    if labels.shape[1] != 1:
        why = "the labels must be class indices (label_mode='int', the default), for SparseCategoricalCrossentropy"
        verdicts.fail(3, f"{where}: each label has {labels.shape[1]} values: {why}", why)
        return
    if len(got) != len(expected):
        why = "the dataset must give every picture of the folder once per epoch (no .take(), .repeat())"
        verdicts.fail(3, f"{where}: one epoch gives {len(got)} images, the folder has {len(expected)}: {why}", why)
        return
    if got.max() <= 1.0 + 1e-6 < expected.max():
        why = ("the pixels were scaled to 0-1 in the pipeline: leave them 0-255, the model's "
               "Rescaling(1/255) scales them")
        verdicts.fail(3, f"{where}: {why}", why)
        return
    unused = set(range(len(expected)))
    for image, label in zip(got, labels[:, 0], strict=True):
        distances = {i: float(np.mean(np.abs(image - expected[i]))) for i in unused}
        best = min(distances, key=distances.get)
        if distances[best] > MATCH_TOLERANCE or int(label) != int(expected_labels[best]):
            why = ("an image or its label does not match a picture of the folder: load the folder "
                   "with image_dataset_from_directory and keep its labels")
            verdicts.fail(3, f"{where}: {why}", why)
            return
        unused.discard(best)


def _check_dataset(verdicts, case, row):
    folder_case(case)
    error = error_text(row, "make_dataset")
    record = row.get("value")
    if error or not isinstance(record, dict):
        error = error or "make_dataset did not return a dataset"
        verdicts.fail(0, f"{describe_folder(case)}: {error}", hint_of(error))
        return
    if _check_spec(verdicts, case, record):
        _check_content(verdicts, case, record)


def judge_dataset(data, cases, hidden):
    return judge_each(DATASET_REQUIREMENTS, data, cases, hidden, _check_dataset)



DATASET_PART = Part(
    grade_id="ex07-make-dataset", label="Part 1 make_dataset", names=("make_dataset",),
    visible=([6, 28, 0, "L", 4], [5, 40, 1, "RGB", 3]),
    collect=collect_dataset, judge=judge_dataset, requirements=DATASET_REQUIREMENTS,
)
