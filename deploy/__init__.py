"""Deployment to AWS: the stack template, the Elastic Beanstalk bundle, ``python -m deploy``."""
