"""Server-rendered staff pages in Chinese, one module per area (templates in ../templates/).

``common`` holds the rendering and the ``page`` decorator; the form parsers are
:mod:`services.gateway.forms`; labels come from :mod:`services.common.vocabulary`.
"""
