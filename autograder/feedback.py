"""GenerateClassFeedback: nbgrader's GenerateFeedback, with one exporter for a whole class."""

from __future__ import annotations

import os

from nbconvert.writers import FilesWriter
from nbgrader.apps import NbGraderAPI
from nbgrader.converters import GenerateFeedback
from nbgrader.utils import capture_log, temp_attrs
from traitlets.config import Config


class GenerateClassFeedback(GenerateFeedback):
    """Writes one student's feedback per `generate`, reusing one exporter for every student.

    `NbGraderAPI.generate_feedback` builds a new converter, HTML exporter and template
    environment for each student, so every page compiled the same Jinja templates again.
    nbgrader's own `generate_feedback` without a student id
    converts a whole class with one exporter; this does the same, one student at a time,
    so each page is written as soon as that student is graded. The pages are unchanged.
    """

    def __init__(self, api: NbGraderAPI, **kwargs):
        super().__init__(coursedir=api.coursedir, parent=api, **kwargs)
        # As NbGraderAPI.generate_feedback does: the template is `feedback` whatever the
        # formgrader's settings, and existing pages are replaced.
        config = Config()
        config.HTMLExporter.template_name = "feedback"
        self.update_config(config)
        self.force = True
        self._exporter_made = False

    def generate(self, assignment: str, student: str) -> dict:
        """One student's pages; nbgrader's result dict (`success`, and `log`, `error`)."""
        with temp_attrs(self.coursedir, assignment_id=assignment, student_id=student):
            return capture_log(self)

    def start(self) -> None:
        # BaseConverter.start, except that the writer and exporter are made only once.
        self.init_notebooks()
        if not self._exporter_made:
            self.writer = FilesWriter(parent=self, config=self.config)
            self.exporter = self.exporter_class(parent=self, config=self.config)
            for preprocessor in self.preprocessors:
                self.exporter.register_preprocessor(preprocessor)
            self._exporter_made = True
        currdir = os.getcwd()
        os.chdir(self.coursedir.root)
        try:
            self.convert_notebooks()
        finally:
            os.chdir(currdir)
