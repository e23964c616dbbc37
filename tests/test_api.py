import subprocess
import sys

import dioramic


def test_import_touches_no_heavy_dependency() -> None:
    code = (
        "import sys, dioramic, dioramic.cli, dioramic.depth, dioramic.config, dioramic.executors;"
        "heavy = ('moderngl', 'onnxruntime', 'av', 'huggingface_hub', 'torch', 'fastapi', 'uvicorn', 'bpy',"
        " 'ray');"
        "heavy = [m for m in heavy if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_public_api_names_resolve() -> None:
    for name in dioramic.__all__:
        assert getattr(dioramic, name) is not None, name
