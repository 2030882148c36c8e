"""SimCLR pretraining (Chen et al. 2020): NT-Xent between two views of every image, no labels.

The task ``pretrain``: an encoder and a projection head trained with NT-Xent on two independently
augmented views of each image (SimCLR's CIFAR-10 views by default), the negatives of every process
gathered under torchrun. Evaluated by kNN on ``h`` per epoch, the whole battery on ``h`` and ``z``
at the end.
"""

from __future__ import annotations

from .. import losses, training, views
from . import SIMCLR_VIEWS, Method, register


def build(config, d: training.Data, device, amp, generator):
    mean, std = d.train.mean_std()
    model, fast = training.place(training.build_contrastive_model(config, d.train.channels, d.size, mean, std),
                                 device, config)
    gather = training._gather()
    v1, v2 = training.view_pipelines(config, d.size)
    transform = training.eval_transform(d.size, d.train.image_size)
    images = d.train.images

    def step(idx):
        # (2B, C, S, S): both views, one forward pass, batch norm over both
        x = training._layout(views.paired_views(images[idx], v1, v2, generator))
        with amp:
            _, z = fast(x)
        z1, z2 = z.float().chunk(2)
        if gather is None:
            loss = losses.nt_xent(z1, z2, config.temperature, normalize=config.ntxent_normalize)
        else:  # the negatives of every process
            loss = losses.nt_xent(z1, z2, config.temperature, gather=gather, normalize=config.ntxent_normalize)
        return loss, {"contrastive_top1": losses.contrastive_accuracy(z1, z2, config.ntxent_normalize)}

    def monitor():
        return training._knn_monitor(model.encoder, d, config, transform, amp)

    def snapshot():
        return training._embedding_sample({"h": model.encoder}, d, config, transform, amp)

    def final():
        res = {}
        if config.final_eval:
            res.update(training._battery(model.encoder, d, config, transform, amp, "h"))
            if config.head_layers:
                res.update(training._battery(lambda x: model(x)[1], d, config, transform, amp, "z"))
        res.update(training.validation_scores(d, config, transform, amp, encoder=model.encoder))
        emb = training._embedding_sample({"h": model.encoder, "z": lambda x: model(x)[1]}, d, config, transform, amp)
        return res, emb

    return training.Job(model, step, monitor, len(d.train), snapshot), final


METHOD = register(Method(
    name="pretrain", summary="SimCLR pretraining (NT-Xent on two views)", losses=("ntxent",),
    build=build, rebuild=training.rebuild_contrastive,
    # SimCLR's CIFAR-10 views: crop, flip, colour distortion, grayscale (no blur at 32 px, SimCLR Appendix B.9)
    default_views=lambda loss: SIMCLR_VIEWS, views_per_image=lambda loss: 2,
    min_batch=lambda loss: 2))  # NT-Xent needs a negative: another image in the batch
