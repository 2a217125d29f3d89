"""nbgrader preprocessors of the course's grading pipeline."""

from autograder.preprocessors.isolated_execute import IsolatedExecute

__all__ = ["IsolatedExecute"]
