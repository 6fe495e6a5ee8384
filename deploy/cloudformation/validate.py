#!/usr/bin/python3
"""Structural check of deploy/cloudformation/docmill.yaml, since no AWS
account is reachable from CI: the template parses (with CloudFormation's
short-form tags), every Ref, GetAtt, Sub variable and DependsOn names a
parameter, a resource or a pseudo parameter, every resource has the
properties its type requires, the dashboard body is JSON once substituted,
and the fleet's invariants hold (a DLQ with a redrive policy, S3 notifying
the queue, least privilege without "*" resources, an on-demand base plus
spot, target tracking on backlog per instance).

    /usr/bin/python3 deploy/cloudformation/validate.py [TEMPLATE]

Exit 0 and "ok" when it holds; else one line per problem and exit 1."""
import json
import os
import re
import sys

import yaml

PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::Partition",
          "AWS::URLSuffix", "AWS::StackId", "AWS::NoValue", "AWS::NotificationARNs"}
REQUIRED = {
    "AWS::SQS::Queue": [],
    "AWS::SQS::QueuePolicy": ["PolicyDocument", "Queues"],
    "AWS::S3::Bucket": [],
    "AWS::IAM::Role": ["AssumeRolePolicyDocument"],
    "AWS::IAM::InstanceProfile": ["Roles"],
    "AWS::EC2::LaunchTemplate": ["LaunchTemplateData"],
    "AWS::AutoScaling::AutoScalingGroup": ["MinSize", "MaxSize"],
    "AWS::AutoScaling::ScalingPolicy": ["AutoScalingGroupName"],
    "AWS::CloudWatch::Dashboard": ["DashboardBody"],
}


class Tag:
    def __init__(self, name, value):
        self.name, self.value = name, value


def _construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", _construct)


def walk(node, fn):
    fn(node)
    if isinstance(node, Tag):
        walk(node.value, fn)
    elif isinstance(node, dict):
        for v in node.values():
            walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk(v, fn)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                              "docmill.yaml")
    with open(path) as f:
        t = yaml.load(f, Loader=Loader)
    problems = []
    params = set(t.get("Parameters", {}))
    res = t.get("Resources", {})
    names = params | set(res) | PSEUDO

    def check_node(n):
        if isinstance(n, Tag):
            v = n.value
            if n.name == "Ref" and v not in names:
                problems.append("Ref to unknown %r" % v)
            elif n.name == "GetAtt":
                target = v[0] if isinstance(v, list) else v.split(".")[0]
                if target not in res:
                    problems.append("GetAtt of unknown resource %r" % target)
            elif n.name == "Sub":
                text = v[0] if isinstance(v, list) else v
                local = set(v[1]) if isinstance(v, list) and len(v) > 1 else set()
                for var in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    base = var.split(".")[0]
                    if var not in names and base not in res and var not in local:
                        problems.append("Sub variable ${%s} names nothing" % var)
        elif isinstance(n, dict):
            for k, v in n.items():
                if k == "Ref" and isinstance(v, str) and v not in names:
                    problems.append("Ref to unknown %r" % v)

    walk(res, check_node)
    walk(t.get("Outputs", {}), check_node)
    for name, r in res.items():
        typ = r.get("Type")
        if typ not in REQUIRED:
            problems.append("%s: unexpected type %s (add it to REQUIRED)" % (name, typ))
            continue
        for p in REQUIRED[typ]:
            if p not in r.get("Properties", {}):
                problems.append("%s (%s): missing required property %s" % (name, typ, p))
        deps = r.get("DependsOn", [])
        for d in [deps] if isinstance(deps, str) else deps:
            if d not in res:
                problems.append("%s: DependsOn unknown %s" % (name, d))

    # The dashboard is JSON once CloudFormation has substituted it.
    body = res["Dashboard"]["Properties"]["DashboardBody"]
    text = body.value if isinstance(body, Tag) else body
    try:
        json.loads(re.sub(r"\$\{[^}]*\}", "X", text))
    except ValueError as e:
        problems.append("DashboardBody is not JSON: %s" % e)

    # The fleet's invariants.
    q = res["JobQueue"]["Properties"]
    if "RedrivePolicy" not in q:
        problems.append("JobQueue has no redrive policy (no DLQ)")
    if q.get("VisibilityTimeout", 0) < 60:
        problems.append("JobQueue visibility timeout under a minute")
    notif = res["DocumentBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    if not any(c["Event"].startswith("s3:ObjectCreated") for c in notif):
        problems.append("the bucket does not notify the queue of new objects")
    for pol in res["WorkerRole"]["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            rs = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            if any(r == "*" for r in rs) or any("*" in a for a in st["Action"]):
                problems.append("worker policy statement %s is not least privilege" % st.get("Sid"))
    dist = res["WorkerGroup"]["Properties"]["MixedInstancesPolicy"]["InstancesDistribution"]
    if "OnDemandBaseCapacity" not in dist or dist.get("OnDemandPercentageAboveBaseCapacity") != 0:
        problems.append("the group is not an on-demand base plus spot")
    tt = res["BacklogScaling"]["Properties"]
    metrics = tt["TargetTrackingConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    if tt["PolicyType"] != "TargetTrackingScaling" or not any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") ==
            "ApproximateNumberOfMessagesVisible" for m in metrics):
        problems.append("scaling does not track the queue's visible messages")
    if sum(1 for m in metrics if m.get("ReturnData")) != 1:
        problems.append("target tracking needs exactly one metric returning data")

    for p in problems:
        print(p)
    if problems:
        return 1
    print("ok: %d parameters, %d resources" % (len(params), len(res)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
