"""Supervised baselines on the labelled images: cross-entropy, supervised contrastive, triplet.

The task ``supervised`` with one of three losses: ``ce`` (an encoder under a linear classifier),
``supcon`` (Khosla et al. 2020: the positives of an image are every view of its class) and
``triplet`` (batch-hard or semi-hard mining), the last two on an encoder and projection head
trained on two views of every image, like SimCLR.
"""

from __future__ import annotations

import torch.nn.functional as F

from .. import losses, training, views
from . import SIMCLR_VIEWS, SUPERVISED_VIEWS, Method, register

LOSSES = ("ce", "supcon", "triplet")  # the first is the default


def build(config, d: training.Data, device, amp, generator):
    mean, std = d.train.mean_std()
    v1, v2 = training.view_pipelines(config, d.size)
    transform = training.eval_transform(d.size, d.train.image_size)
    images, labels = d.train.images[d.labelled], d.train.labels[d.labelled]
    loss_name = config.loss_name
    if loss_name == "ce":
        model, fast = training.place(
            training.build_classifier(config, d.train.channels, d.size, d.train.num_classes, mean, std), device, config)
        feature_fns = {"h": model.encoder}

        def step(idx):
            x = training._layout(v1(images[idx], generator))
            with amp:
                logits = fast(x).float()
            y = labels[idx]
            return F.cross_entropy(logits, y), {"train_top1": (logits.argmax(1) == y).float().mean()}
    else:
        model, fast = training.place(training.build_contrastive_model(config, d.train.channels, d.size, mean, std),
                                     device, config)
        feature_fns = {"h": model.encoder, "z": lambda x: model(x)[1]}
        gather = training._gather()

        def step(idx):
            x = training._layout(views.paired_views(images[idx], v1, v2, generator))  # (2B, C, S, S)
            with amp:
                _, z = fast(x)
            z = z.float()
            y = labels[idx].repeat(2)
            if loss_name == "supcon" and gather is None:
                loss = losses.supervised_contrastive(z, y, config.temperature)
            elif loss_name == "supcon":  # positives and negatives from every process
                loss = losses.supervised_contrastive(z, y, config.temperature, gather=gather)
            else:  # mined within this process's block of the batch
                loss = losses.triplet_loss(z, y, margin=config.triplet_margin, mining=config.triplet_mining)
            return loss, {}

    def monitor():
        res = training._knn_monitor(model.encoder, d, config, transform, amp)
        if loss_name == "ce" and len(d.monitor):
            res["test_top1"] = training._classifier_accuracy(model, d.test.images[d.monitor], d.test.labels[d.monitor],
                                                    transform, amp)
        return res

    def snapshot():
        return training._embedding_sample({"h": model.encoder}, d, config, transform, amp)

    def final():
        res = {}
        for name, fn in feature_fns.items():
            if config.final_eval and (name == "h" or config.head_layers):
                res.update(training._battery(fn, d, config, transform, amp, name))
        if loss_name == "ce":
            res["test_top1"] = training._classifier_accuracy(model, d.test.images, d.test.labels, transform, amp)
        res.update(training.validation_scores(d, config, transform, amp, encoder=model.encoder,
                                              classifier=model if loss_name == "ce" else None))
        return res, training._embedding_sample(feature_fns, d, config, transform, amp)

    return training.Job(model, step, monitor, len(images), snapshot), final


def rebuild(config, d: training.Data, weights, layer: int):
    """A contrastive baseline has a projection head to evaluate at any layer; a classifier has ``h``."""
    if config.loss_name == "ce":
        return training.rebuild_classifier(config, d, weights, layer)
    return training.rebuild_contrastive(config, d, weights, layer)


def default_views(loss: str) -> str:
    """Khosla et al. 2020 train SupCon with SimCLR's augmentation ("SimAugment"); cross-entropy and the
    triplet loss get the papers' supervised augmentation (colour distortion weakens supervised
    references: SimCLR Table 1 and Section 3)."""
    return SIMCLR_VIEWS if loss == "supcon" else SUPERVISED_VIEWS


METHOD = register(Method(
    name="supervised", summary="supervised training: cross-entropy, supervised contrastive or triplet loss",
    losses=LOSSES, build=build, rebuild=rebuild, default_views=default_views,
    views_per_image=lambda loss: 1 if loss == "ce" else 2,  # the pair losses see two views of every image
    min_batch=lambda loss: 1 if loss == "ce" else 2))  # a positive or a negative needs a second image
