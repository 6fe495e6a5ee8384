# The docmill AMI: Debian 12 with the docmill .deb installed (apt resolves
# Tesseract, MuPDF, LuaJIT...), the service enabled with its TEMP_DIR tmpfs,
# and the CloudWatch agent forwarding the workers' EMF lines as metrics. The
# first boot's user data (deploy/cloudformation/docmill.yaml) names the
# queue, the index and the instance type's policy.
#
#   make package && packer build -var deb=dist/docmill_0.1.0_amd64.deb deploy/packer/docmill.pkr.hcl

variable "deb" {
  type        = string
  description = "The package built by `make package`."
}

variable "region" {
  type    = string
  default = "ap-northeast-1"
}

variable "instance_type" {
  type    = string
  default = "c5.xlarge"
}

variable "cloudwatch_agent_url" {
  type    = string
  default = "https://s3.amazonaws.com/amazoncloudwatch-agent/debian/amd64/latest/amazon-cloudwatch-agent.deb"
}

source "amazon-ebs" "docmill" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "admin"
  ami_name      = "docmill-{{timestamp}}"
  source_ami_filter {
    filters = {
      name                = "debian-12-amd64-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["136693071363"]
    most_recent = true
  }
  # (IMDSv2 only is set on the workers by the launch template; Debian's
  # packer 1.6 has no metadata_options for the build instance.)
  tags = {
    Name = "docmill"
  }
}

build {
  sources = ["source.amazon-ebs.docmill"]

  provisioner "file" {
    source      = var.deb
    destination = "/tmp/docmill.deb"
  }

  provisioner "file" {
    source      = "deploy/packer/cloudwatch-agent.json"
    destination = "/tmp/cloudwatch-agent.json"
  }

  provisioner "shell" {
    inline = [
      "set -e",
      "sudo apt-get update -qq",
      "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/docmill.deb",
      "docmill --version",
      "curl -fsSL -o /tmp/cwagent.deb ${var.cloudwatch_agent_url}",
      "sudo apt-get install -y -qq /tmp/cwagent.deb",
      "sudo install -D -m 0644 /tmp/cloudwatch-agent.json /opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
      "sudo systemctl enable amazon-cloudwatch-agent",
      # The TEMP_DIR tmpfs for the built-in policy; the first boot's user
      # data links the instance type's policy, sizes it again and restarts.
      "sudo /usr/lib/docmill/first-boot",
      "sudo systemctl enable docmill.service",
    ]
  }
}
