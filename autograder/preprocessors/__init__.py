"""nbgrader preprocessors of the course's grading pipeline."""

from autograder.preprocessors.clear_hidden_tests import ClearHiddenTestsFromTestCells
from autograder.preprocessors.isolated_execute import IsolatedExecute

__all__ = ["ClearHiddenTestsFromTestCells", "IsolatedExecute"]
