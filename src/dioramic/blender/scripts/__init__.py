"""Scripts run by Blender's own Python (``.venv-blender``), never imported by dioramic.

Each is run as ``python SCRIPT.py PARAMS.json`` by `dioramic.blender.env.run_script`; `_common` holds
what they share (importing our glTF, setting up the scene, the result protocol).
"""
