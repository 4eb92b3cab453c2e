"""kinora.ml.face_net runs dlib's face ResNet on numpy: its descriptors must be
dlib's own, or enrolled faces (embedded before) would stop matching."""

import dlib
import numpy as np
import skimage.data

from kinora.ml import face_net, faces


def test_numpy_network_gives_dlibs_descriptors():
    picture = skimage.data.astronaut()
    detector, landmarks = faces._models()
    model_file = faces._model_dir() / "dlib_face_recognition_resnet_model_v1.dat"
    reference = dlib.face_recognition_model_v1(str(model_file))
    compared = 0
    for rgb in (picture, np.ascontiguousarray(picture[:, ::-1]), np.ascontiguousarray(picture[40:300, 120:330])):
        rects = detector(rgb, 0)
        shape = landmarks(rgb, rects[0])
        theirs = np.asarray(reference.compute_face_descriptor(rgb, shape), dtype=np.float32)
        ours = face_net.embed(dlib.get_face_chip(rgb, shape, face_net.CHIP_SIZE, face_net.CHIP_PADDING), model_file)
        assert ours.shape == (128,)
        assert np.abs(ours - theirs).max() < 1e-4
        compared += 1
    assert compared == 3
    # find_faces uses it: the astronaut's embedding is dlib's too.
    found = faces.find_faces(picture)[0].embedding
    shape = landmarks(picture, detector(picture, 0)[0])
    assert np.linalg.norm(found - np.asarray(reference.compute_face_descriptor(picture, shape))) < 1e-4


def test_a_different_chip_gives_a_different_descriptor():
    model_file = faces._model_dir() / "dlib_face_recognition_resnet_model_v1.dat"
    rng = np.random.default_rng(1)
    a = face_net.embed(rng.integers(0, 255, (150, 150, 3), dtype=np.uint8), model_file)
    b = face_net.embed(skimage.data.astronaut()[30:180, 160:310], model_file)
    assert np.linalg.norm(a - b) > 0.1
