"""ClearHiddenTestsFromTestCells: nbgrader's ClearHiddenTests, for feedback, on test cells only."""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests

from autograder.cells import is_test_cell


class ClearHiddenTestsFromTestCells(ClearHiddenTests):
    """Removes hidden tests from test cells; marker text a student typed elsewhere is theirs.

    nbgrader's step reads every cell, so a student's note that quotes "BEGIN HIDDEN TESTS"
    (in markdown, a comment or a string) stopped the feedback for the whole class. Test
    cells are the instructor's, restored from the gradebook before grading; only they can
    hold hidden tests.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not is_test_cell(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)
