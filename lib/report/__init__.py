"""The report: notebooks run headlessly, their pages, and what the pages show.

Built on the engine (:mod:`lib`), which never imports this package:

- ``runner``    ``python -m lib.report``: run the notebooks with papermill, render HTML, write the index
- ``pages``     a page for readers: banner (parameters, runs loaded and trained), folded code, contents
- ``index``     the indexes: one section per profile, each notebook's headline numbers from its manifest
- ``kernels``   the project's Jupyter kernel: that it is this environment's, started over IPC sockets
- ``plain``     the same notebooks' code cells in one Python process (``--engine plain``, no Jupyter)
- ``params``    the notebooks' ``parameters`` cells: read, typed, overridden
- ``notebooks`` the notebook registry: one module per notebook (its runs' builder, values per profile,
                index numbers, claims, README figure, Answer), read by plans, profiles, index and the README
- ``profiles``  named sets of parameter values: smoke, quick, cifar-cpu, full, and their order
- ``iterations`` the three iterations' runs (01-03) as configs
- ``grids``     the related-work ablations' grids of configs and the plan of their compute
- ``simclr_v2`` SimCLRv2's pretraining, fine-tuning and distillation configs, once for notebooks 03 and 08
- ``manifests`` which runs stand behind a notebook's numbers (manifests), and the record readers
- ``statistics`` mean ± std over seeds, per-seed effects, the verdicts' test
- ``frames``    the tables as DataFrames; ``tables`` names all three for the notebooks
- ``plots``     the figures (drawing only)
- ``papers``    the papers' numbers, transcribed
- ``diagram``   the SimCLR framework figure of the README
"""
