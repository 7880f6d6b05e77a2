"""Translates a SAM template to plain CloudFormation, offline: `sam_translate.py IN OUT`.

cfn-lint skips some checks on SAM templates, among them E3004 (circular dependencies): a function
whose environment references the API that invokes it passes `cfn-lint template.yaml` and
`sam validate --lint`, then fails at deploy. Linting the translated template catches it.
"""

import json
import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

# The translator wants a region and S3 code locations; neither matters for linting.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
FAKE_CODE = "s3://example-bucket/code.zip"


class NoManagedPolicies:
    """Resolves no managed-policy names (the template uses none): no call to IAM."""

    def load(self):
        return {}


def main(source, target):
    template, errors = decode(source)
    if errors:
        sys.exit("\n".join(str(e) for e in errors))
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = FAKE_CODE
    translated = transform(template, {"AWS::Region": os.environ["AWS_DEFAULT_REGION"]}, NoManagedPolicies())
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with open(target, "w") as out:
        json.dump(translated, out, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:3])
