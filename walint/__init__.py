"""walint: review CloudFormation templates against the AWS Well-Architected Framework."""

__version__ = "0.1.0"
